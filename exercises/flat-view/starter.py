import torch


def flat_view(t: torch.Tensor) -> torch.Tensor:
    """Return a 1-D view of the contiguous tensor ``t``: all its elements in one dimension,
    in row-major order, sharing ``t``'s memory (same storage and ``data_ptr()``, no copy)."""
    raise NotImplementedError
