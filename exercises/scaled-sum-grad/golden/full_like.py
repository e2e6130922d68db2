import torch


def scaled_sum_grad(x, k):
    # Correct without autograd: d/dx_i of sum(x * k) is k for every element.
    return torch.full_like(x, k).detach()
