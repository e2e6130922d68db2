"""Reference solution of safe-flatten (never shown to learners), with its wrong twins."""

import torch


def safe_flatten(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1)


# Wrong twins: what a known mistake returns on the same inputs (misconceptions' output_matches).


def memory_order(t: torch.Tensor) -> torch.Tensor:
    """The elements in the order they lie in memory (for a transposed tensor: column by
    column), as `t.T.reshape(-1)` or NumPy's `ravel(order="K")` give, instead of row-major
    order. The same as the reference on a contiguous tensor."""
    dims = sorted(range(t.dim()), key=lambda d: -t.stride(d))
    return t.permute(dims).reshape(-1)


def merge_first_two_dims(t: torch.Tensor) -> torch.Tensor:
    """`torch.cat(list(t))` / `t.flatten(0, 1)`: joins the rows, leaving the other dimensions."""
    return t.flatten(0, 1)
