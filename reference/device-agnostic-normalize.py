"""Reference solution of device-agnostic-normalize (never shown to learners), and wrong twins."""

import torch


def normalize(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x - m) / s


# Wrong twins.
def float32_constants(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    # torch.tensor(list) is float32 whatever x is.
    m = torch.tensor(mean, device=x.device).view(-1, 1, 1)
    s = torch.tensor(std, device=x.device).view(-1, 1, 1)
    return (x - m) / s


def constants_on_last_axis(x: torch.Tensor, mean: list[float], std: list[float]) -> (
    torch.Tensor | None
):
    # A (C,) tensor broadcasts against the LAST axis; it only runs when W == C.
    if x.shape[-1] != len(mean):
        return None
    m = torch.tensor(mean, dtype=x.dtype, device=x.device)
    s = torch.tensor(std, dtype=x.dtype, device=x.device)
    return (x - m) / s
