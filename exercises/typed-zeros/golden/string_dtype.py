import torch


def typed_zeros(rows, cols, kind):
    return torch.zeros(rows, cols, dtype=kind)
