import torch


def select_greater(t, threshold):
    return torch.nonzero(t > threshold)
