import torch


def scaled_sum_grad(x, k):
    return torch.autograd.grad(x * k, x)[0]
