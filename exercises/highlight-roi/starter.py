import torch


def highlight_roi_(image: torch.Tensor, mask: torch.Tensor, amount: int) -> torch.Tensor:
    """Highlight the region of interest of ``image``, in place.

    ``image`` is an integer tensor (C, H, W) with values in [0, 255]; ``mask`` is a boolean
    tensor (H, W). Add ``amount`` (may be negative) to every pixel inside the mask, on every
    channel, then clamp the image to [0, 255]. Change ``image`` itself (no new tensor) and
    return it. ``mask`` must not change.
    """
    raise NotImplementedError
