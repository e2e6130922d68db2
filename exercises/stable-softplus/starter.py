import torch


def softplus(x: torch.Tensor) -> torch.Tensor:
    """Return log(1 + exp(x)), element-wise, with torch operations.

    Must stay finite (no inf, no nan) for x anywhere in [-100, 100], keep the dtype of ``x``,
    and let autograd compute correct gradients with respect to ``x``.
    """
    raise NotImplementedError
