import torch


def scaled_sum_grad(x: torch.Tensor, k: float) -> torch.Tensor:
    """Return the gradient of ``(x * k).sum()`` with respect to ``x`` (same shape as ``x``).

    ``x`` requires grad and may already hold a gradient in ``x.grad`` from an earlier backward
    pass: that old gradient must not leak into your answer.
    """
    raise NotImplementedError
