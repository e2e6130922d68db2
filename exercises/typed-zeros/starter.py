import torch


def typed_zeros(rows: int, cols: int, kind: str) -> torch.Tensor:
    """Return a (rows, cols) tensor of zeros whose dtype is named by ``kind``:
    "float16", "int16" or "bool"."""
    raise NotImplementedError
