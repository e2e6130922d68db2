import torch


def share_from_numpy(arr):
    # torch.as_tensor shares memory with a NumPy array when no dtype or device change is asked.
    return torch.as_tensor(arr)
