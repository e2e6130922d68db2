import torch


def detach_share(x):
    return torch.tensor(x)
