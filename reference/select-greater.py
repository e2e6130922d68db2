"""Reference solution of select-greater (never shown to learners), with its wrong twins."""

import torch


def select_greater(t: torch.Tensor, threshold: float) -> torch.Tensor:
    return t[t > threshold]


# Wrong twins: what a known mistake returns on the same inputs (misconceptions' output_matches).


def select_greater_or_equal(t: torch.Tensor, threshold: float) -> torch.Tensor:
    """`>=` instead of `>`: keeps the elements equal to the threshold."""
    return t[t >= threshold]


def the_mask(t: torch.Tensor, threshold: float) -> torch.Tensor:
    """The boolean mask itself instead of the elements it selects."""
    return t > threshold


def zeros_elsewhere(t: torch.Tensor, threshold: float) -> torch.Tensor:
    """Keeps t's shape and puts 0 where the condition is false (`torch.where`, `t * mask`)."""
    return torch.where(t > threshold, t, torch.zeros_like(t))


def indices_of_greater(t: torch.Tensor, threshold: float) -> torch.Tensor:
    """`torch.nonzero(t > threshold)`: the positions of the elements, not the elements."""
    return torch.nonzero(t > threshold)
