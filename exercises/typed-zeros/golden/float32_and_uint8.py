import torch

DTYPES = {"float16": torch.float, "int16": torch.short, "bool": torch.uint8}


def typed_zeros(rows, cols, kind):
    return torch.zeros(rows, cols).to(DTYPES[kind])
