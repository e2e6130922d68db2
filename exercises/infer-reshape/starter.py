import torch


def infer_reshape(t: torch.Tensor, rows: int) -> torch.Tensor:
    """Return ``t`` reshaped to ``rows`` rows; the number of columns is whatever holds all of
    ``t``'s elements (``rows`` divides ``t.numel()``).

    Elements keep their row-major order and dtype. When ``t`` is contiguous, the result must
    share ``t``'s memory (no copy). ``t`` itself must not change.
    """
    raise NotImplementedError
