import torch


def zeros_matrix(rows, cols):
    # An uninitialised tensor, then filled in place: also float32 zeros.
    out = torch.empty(rows, cols)
    out.zero_()
    return out
