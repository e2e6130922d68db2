import torch


def share_from_numpy(arr):
    return torch.tensor(arr)
