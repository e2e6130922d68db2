import numpy as np
import torch


def image_to_chw(img: np.ndarray) -> torch.Tensor:
    """Turn ``img``, an (H, W, 3) uint8 image in OpenCV's BGR order, into a float32 tensor of
    shape (3, H, W) with channels in RGB order and values in [0, 1] (pixel / 255).

    ``img`` itself must not change.
    """
    raise NotImplementedError
