"""Reference solution of scaled-sum-grad (never shown to learners), and its wrong twins."""

import torch


def scaled_sum_grad(x: torch.Tensor, k: float) -> torch.Tensor:
    # torch.autograd.grad returns the gradient without touching x.grad.
    (grad,) = torch.autograd.grad((x * k).sum(), x)
    return grad


# Wrong twins.
def grad_accumulated(x: torch.Tensor, k: float) -> torch.Tensor:
    # backward() ADDS to an existing x.grad.
    (x * k).sum().backward()
    return x.grad


def returns_k(x: torch.Tensor, k: float) -> float:
    return k


def k_as_0d_tensor(x: torch.Tensor, k: float) -> torch.Tensor:
    return torch.tensor(k, dtype=x.dtype)


def forward_value(x: torch.Tensor, k: float) -> torch.Tensor:
    return (x * k).detach()
