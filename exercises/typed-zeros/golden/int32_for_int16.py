import torch

DTYPES = {"float16": torch.float16, "int16": torch.int, "bool": torch.bool}


def typed_zeros(rows, cols, kind):
    return torch.zeros(rows, cols, dtype=DTYPES[kind])
