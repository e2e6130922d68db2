"""Reference solution of select-rows (never shown to learners), with its wrong twins."""

import torch


def select_rows(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return t[rows]


# Wrong twins: what a known mistake returns on the same inputs (misconceptions' output_matches).


def select_columns(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """`t[:, rows]`: indexes the second dimension (columns) instead of the first."""
    return t[:, rows]


def unique_sorted_rows(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """A boolean row mask (or a set of indices): each row once, in ascending order."""
    return t[torch.unique(rows)]
