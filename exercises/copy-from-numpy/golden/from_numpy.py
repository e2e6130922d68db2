import torch


def copy_from_numpy(arr):
    return torch.from_numpy(arr)
