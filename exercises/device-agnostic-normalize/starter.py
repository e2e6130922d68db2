import torch


def normalize(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Return ``(x - mean[c]) / std[c]`` for every channel ``c`` of ``x``, a (C, H, W) float
    tensor; ``mean`` and ``std`` are Python lists of C numbers.

    The result has the dtype of ``x`` and lives on the same device as ``x`` (CPU or GPU):
    never name a device. ``x`` itself must not change.
    """
    raise NotImplementedError
