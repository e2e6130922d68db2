"""Choosing the device a case runs on."""

from __future__ import annotations

import torch


def resolve_device(wanted: str) -> str:
    """``cuda`` when the exercise asks for it and this worker has a GPU, else ``cpu``.

    ``torch.cuda.is_available()`` asks the driver without creating a CUDA context, so calling it
    does not make a later fork unsafe.
    """
    if wanted == "cuda" and torch.cuda.is_available():
        return "cuda"
    return "cpu"
