import torch


def to_uint8_image(x: torch.Tensor) -> torch.Tensor:
    """Return the float image ``x`` (values meant to lie in [0, 1]) as a uint8 tensor of the same
    shape: ``round(x * 255)``, clamped to [0, 255]. ``x`` itself must not change."""
    raise NotImplementedError
