"""Reference solution of expand-mask (never shown to learners), with its wrong twins."""

import torch


def expand_mask(mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return mask.expand_as(image)


# Wrong twins: what a known mistake returns on the same inputs (misconceptions' output_matches).


def unsqueezed(mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """`mask.unsqueeze(0)` / `mask[None]`: a channel dimension of size 1, not expanded."""
    return mask.unsqueeze(0)


def three_channels(mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """`mask.expand(3, H, W)`: the number of channels hard-coded to 3 (RGB)."""
    return mask.expand(3, *mask.shape)
