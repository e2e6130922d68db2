import torch


def select_greater(t, threshold):
    return torch.where(t > threshold)
