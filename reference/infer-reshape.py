"""Reference solution of infer-reshape (never shown to learners), with its wrong twins."""

import torch


def infer_reshape(t: torch.Tensor, rows: int) -> torch.Tensor:
    return t.reshape(rows, -1)


# Wrong twins: what a known mistake returns on the same inputs (misconceptions' output_matches).


def minus_one_first(t: torch.Tensor, rows: int) -> torch.Tensor:
    """`t.reshape(-1, rows)`: `rows` columns instead of `rows` rows."""
    return t.reshape(-1, rows)
