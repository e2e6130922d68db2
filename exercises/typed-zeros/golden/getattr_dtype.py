import torch


def typed_zeros(rows, cols, kind):
    # torch.float16, torch.int16 and torch.bool are attributes of the torch module.
    return torch.zeros((rows, cols), dtype=getattr(torch, kind))
