"""Reference solution of concat (never shown to learners), and its wrong twins."""

import torch


def concat(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.cat((a, b), dim=dim)


# Wrong twins: what common mistakes return, to recognise them in feedback.


def stacks(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    """``torch.stack`` adds a new dimension (raises when the shapes differ)."""
    return torch.stack((a, b), dim=dim)


def cat_dim0(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    """``torch.cat`` without ``dim`` joins along dimension 0."""
    return torch.cat((a, b))
