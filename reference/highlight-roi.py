"""Reference solution of highlight-roi (never shown to learners), with its wrong twins."""

import torch


def highlight_roi_(image: torch.Tensor, mask: torch.Tensor, amount: int) -> torch.Tensor:
    image[mask.expand_as(image)] += amount
    image.clamp_(0, 255)
    return image


# Wrong twins: what a known mistake returns on the same inputs (misconceptions' output_matches).


def no_clamp(image: torch.Tensor, mask: torch.Tensor, amount: int) -> torch.Tensor:
    """Adds inside the mask but never clamps: values above 255 or below 0 remain."""
    image[mask.expand_as(image)] += amount
    return image


def first_channel_only(image: torch.Tensor, mask: torch.Tensor, amount: int) -> torch.Tensor:
    """`image[0, mask] += amount`, the notebook's first step: only channel 0 changes."""
    image[0, mask] += amount
    image.clamp_(0, 255)
    return image
