import torch


def copy_from_numpy(arr):
    return torch.tensor(arr.tolist())
