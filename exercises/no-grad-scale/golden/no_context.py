import torch


def no_grad_scale(x, k):
    torch.no_grad()
    return x * k
