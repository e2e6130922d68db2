import torch


def select_greater(t, threshold):
    # torch.masked_select returns the selected elements as a 1-D tensor, in row-major order.
    return torch.masked_select(t, t > threshold)
