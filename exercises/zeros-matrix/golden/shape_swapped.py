import torch


def zeros_matrix(rows, cols):
    return torch.zeros(cols, rows)
