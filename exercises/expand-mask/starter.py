import torch


def expand_mask(mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Return a view of the boolean mask ``mask`` (H, W) with the shape of ``image`` (C, H, W).

    Every channel sees the same H x W mask. No data may be copied: the result shares
    ``mask``'s memory and stays ``bool``. Neither input may change.
    """
    raise NotImplementedError
