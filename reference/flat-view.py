"""Reference solution of flat-view (never shown to learners), with its wrong twins."""

import torch


def flat_view(t: torch.Tensor) -> torch.Tensor:
    return t.view(-1)


# Wrong twins: what a known mistake returns on the same inputs (misconceptions' output_matches).


def row_view(t: torch.Tensor) -> torch.Tensor:
    """`t.view(1, -1)`: one row, but still two dimensions."""
    return t.view(1, -1)


def column_view(t: torch.Tensor) -> torch.Tensor:
    """`t.view(-1, 1)`: one column, but still two dimensions."""
    return t.view(-1, 1)
