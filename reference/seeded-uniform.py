"""Reference solution of seeded-uniform (never shown to learners), and its wrong twins."""

import numpy as np
import torch


def seeded_uniform(shape: list[int], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g)


# Wrong twins: what common mistakes return, to recognise them in feedback. None of them touches
# the global random state of the grading process.


def numpy_legacy_rand(shape: list[int], seed: int) -> torch.Tensor:
    """``np.random.seed(seed); np.random.rand(*shape)`` (same stream as ``RandomState``)."""
    return torch.from_numpy(np.random.RandomState(seed).rand(*shape)).float()


def numpy_default_rng(shape: list[int], seed: int) -> torch.Tensor:
    """``np.random.default_rng(seed).random(shape)``."""
    return torch.from_numpy(np.random.default_rng(seed).random(tuple(shape))).float()


def randn(shape: list[int], seed: int) -> torch.Tensor:
    """``torch.randn`` (normal) instead of ``torch.rand`` (uniform), from the right generator."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))
