"""Reference solution of bgr-to-rgb (never shown to learners), and its wrong twins."""

import numpy as np


def bgr_to_rgb(img: np.ndarray) -> np.ndarray:
    # Reversing the channel axis with a negative step is a view: no pixel is copied.
    return img[..., ::-1]


# Wrong twins: what a learner returns when reversing the wrong axis. Where that axis has a
# single entry the flip changes nothing and cannot be told apart from other mistakes, so the
# twin returns None (never matched) rather than name a misconception it cannot see.
def flip_rows(img: np.ndarray) -> np.ndarray | None:
    return img[::-1] if img.shape[0] > 1 else None


def flip_columns(img: np.ndarray) -> np.ndarray | None:
    return img[:, ::-1] if img.shape[1] > 1 else None


def swap_through_views(img: np.ndarray) -> np.ndarray:
    # `img[..., 0], img[..., 2] = img[..., 2], img[..., 0]`: the right-hand side holds views,
    # so channel 2 receives channel 0 after it was already overwritten with R: R, G, R.
    out = img.copy()
    out[..., 0] = img[..., 2]
    out[..., 2] = img[..., 2]
    return out
