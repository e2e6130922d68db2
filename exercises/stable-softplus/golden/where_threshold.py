import torch


def softplus(x):
    return torch.where(x > 20, x, torch.log1p(torch.exp(x)))
