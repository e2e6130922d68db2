import torch


def safe_flatten(t):
    return torch.cat([row for row in t])
