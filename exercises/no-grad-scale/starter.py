import torch


def no_grad_scale(x: torch.Tensor, k: float) -> torch.Tensor:
    """Return ``x * k`` computed without recording autograd history: the result must not
    require grad and must have no ``grad_fn``. ``x`` must be left unchanged (same values, and
    still requiring grad).
    """
    raise NotImplementedError
