import torch


def concat(a, b, dim):
    return torch.stack((a, b), dim=dim)
