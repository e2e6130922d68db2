import torch


def zeros_matrix(rows, cols):
    # The shape may also be given as one tuple, and the dtype spelled out.
    return torch.zeros((rows, cols), dtype=torch.float32)
