import torch


def select_greater(t: torch.Tensor, threshold: float) -> torch.Tensor:
    """Return the elements of ``t`` that are strictly greater than ``threshold``.

    The result is a 1-D tensor with ``t``'s dtype, holding the selected elements in row-major
    order (row by row, as ``t.flatten()`` lists them). ``t`` itself must not change.
    """
    raise NotImplementedError
