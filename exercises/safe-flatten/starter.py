import torch


def safe_flatten(t: torch.Tensor) -> torch.Tensor:
    """Return a 1-D tensor with all the elements of ``t`` in row-major order.

    ``t`` may be non-contiguous (for example a transposed tensor). The result has shape
    ``(t.numel(),)`` and ``t``'s dtype; ``t`` itself must not change.
    """
    raise NotImplementedError
