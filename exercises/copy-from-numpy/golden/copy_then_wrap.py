import torch


def copy_from_numpy(arr):
    # NumPy copies, then the tensor wraps that private copy (nobody else holds it).
    return torch.from_numpy(arr.copy())
