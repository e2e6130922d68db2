"""Reference solution of image-to-chw (never shown to learners), and its wrong twins."""

import numpy as np
import torch


def image_to_chw(img: np.ndarray) -> torch.Tensor:
    rgb = np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB; from_numpy refuses negative strides
    return (torch.from_numpy(rgb).permute(2, 0, 1).to(torch.float32) / 255).contiguous()


# Wrong twins: each is the reference with one known mistake.
def _rgb(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img[..., ::-1]))


def keeps_hwc(img: np.ndarray) -> torch.Tensor:
    return _rgb(img).float() / 255


def keeps_hwc_and_bgr(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).float() / 255


def permute_h_w_swapped(img: np.ndarray) -> torch.Tensor | None:
    # (3, W, H): permute(2, 1, 0). Square images cannot tell it from the right order.
    if img.shape[0] == img.shape[1]:
        return None
    return _rgb(img).permute(2, 1, 0).float() / 255


def permute_h_w_swapped_square(img: np.ndarray) -> torch.Tensor | None:
    # On a square image permute(2, 1, 0) has the right shape but transposes the picture.
    if img.shape[0] != img.shape[1] or img.shape[0] == 1:
        return None
    return _rgb(img).permute(2, 1, 0).float() / 255


def reshape_not_permute(img: np.ndarray) -> torch.Tensor:
    h, w, _ = img.shape
    return _rgb(img).reshape(3, h, w).float() / 255


def keeps_bgr(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255


def divides_by_256(img: np.ndarray) -> torch.Tensor:
    return _rgb(img).permute(2, 0, 1).float() / 256


def not_scaled(img: np.ndarray) -> torch.Tensor:
    return _rgb(img).permute(2, 0, 1).float()


def integer_division(img: np.ndarray) -> torch.Tensor:
    return _rgb(img).permute(2, 0, 1) // 255
