import torch


def copy_from_numpy(arr):
    # Share first, then clone: the clone has its own memory and keeps the dtype.
    return torch.from_numpy(arr).clone()
