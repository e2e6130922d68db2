import torch


def safe_flatten(t):
    return torch.flatten(t)
