"""Reference solution of stable-softplus (never shown to learners), and its wrong twin."""

import torch


def softplus(x: torch.Tensor) -> torch.Tensor:
    # log(exp(x) + exp(0)), computed without overflow; its autograd gradient is sigmoid(x).
    return torch.logaddexp(x, torch.zeros_like(x))


# Wrong twin: the textbook formula, which overflows to inf for large x in float32.
def naive(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.log(1 + torch.exp(x))
