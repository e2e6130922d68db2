import torch


def zeros_matrix(rows, cols):
    return torch.zeros(rows, cols, dtype=int)
