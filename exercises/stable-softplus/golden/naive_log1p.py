import torch


def softplus(x):
    return torch.log1p(torch.exp(x))
