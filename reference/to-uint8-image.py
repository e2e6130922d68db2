"""Reference solution of to-uint8-image (never shown to learners), and its wrong twins."""

import torch


def to_uint8_image(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().clamp(0, 255).to(torch.uint8)


# Wrong twins: the exact code of common mistakes, so that float-to-uint8 conversion of
# out-of-range values behaves as it does for the learner.


def truncates(x: torch.Tensor) -> torch.Tensor:
    """No rounding and no clamping: the conversion truncates and out-of-range values wrap."""
    return (x * 255).to(torch.uint8)


def wraps(x: torch.Tensor) -> torch.Tensor:
    """Rounded but not clamped: out-of-range values wrap around."""
    return (x * 255).round().to(torch.uint8)
