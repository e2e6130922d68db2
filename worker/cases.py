"""Case inputs: generated from a seed, identically for the reference and the learner.

An argument in ``exercise.yaml`` is either a literal (number, string, list) or a generator spec,
a mapping with a ``gen`` key (typed and checked at load by :mod:`common.spec.generators`):

``tensor`` / ``array``
    A torch tensor or NumPy array. Keys: ``shape`` (list), ``dtype`` (``float32``...),
    ``dist`` (``uniform`` [low, high), ``normal`` (mean, std), ``int`` [low, high),
    ``bool`` (p), ``linspace`` [low, high], ``arange``, ``full`` (value)), or ``values``
    (a nested list, taken literally); ``transpose: [d0, d1]`` returns a non-contiguous
    transposed view of that shape. Tensors also take ``requires_grad`` and ``grad`` (a
    pre-existing ``.grad`` filled with that number).

Every generated tensor is placed on the case's device. Generation is deterministic: the same
seed, spec and device give the same values in every process.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import torch

from common.spec import CaseSpec, ExerciseError
from common.spec.generators import ArraySpec, TensorSpec


class CaseInputError(ExerciseError):
    """A case's generator spec cannot be built."""


def _arg_seed(case_seed: int, name: str) -> int:
    # Each argument gets its own stream, so adding an argument does not shift the others.
    return (case_seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _numpy_values(spec: TensorSpec | ArraySpec, shape: tuple[int, ...], dtype: str,
                  seed: int) -> np.ndarray:
    if spec.values is not None:
        return np.array(spec.values, dtype=dtype)
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape)) if shape else 1
    data: np.ndarray
    if spec.dist == "uniform":
        data = rng.uniform(_or(spec.low, 0.0), _or(spec.high, 1.0), shape)
    elif spec.dist == "normal":
        data = rng.normal(_or(spec.mean, 0.0), _or(spec.std, 1.0), shape)
    elif spec.dist == "int":
        data = rng.integers(int(_or(spec.low, 0)), int(_or(spec.high, 10)), shape)
    elif spec.dist == "bool":
        data = rng.random(shape) < _or(spec.p, 0.5)
    elif spec.dist == "linspace":
        data = np.linspace(_or(spec.low, 0.0), _or(spec.high, 1.0), size).reshape(shape)
    elif spec.dist == "arange":
        data = np.arange(size).reshape(shape)
    else:  # "full"; the spec's type admits no other
        data = np.full(shape, _or(spec.value, 0))
    return np.asarray(data).astype(dtype)


def _transposed(spec: TensorSpec | ArraySpec, dtype: str, seed: int) -> tuple[
    np.ndarray, tuple[int, int] | None
]:
    """Values of the requested shape, made first in the swapped layout when asked to transpose."""
    if spec.transpose is None:
        return _numpy_values(spec, spec.shape, dtype, seed), None
    d0, d1 = spec.transpose
    shape = list(spec.shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    return _numpy_values(spec, tuple(shape), dtype, seed), (d0, d1)


def build_array(spec: ArraySpec, seed: int) -> np.ndarray:
    """A NumPy array from a generator spec (see the module docstring)."""
    base, dims = _transposed(spec, spec.dtype, seed)
    return base if dims is None else base.swapaxes(*dims)


def build_tensor(spec: TensorSpec, seed: int, device: str) -> torch.Tensor:
    """A torch tensor from a generator spec, on ``device``."""
    dtype = getattr(torch, spec.dtype)
    # bfloat16 has no NumPy dtype: build in float32 and convert.
    base, dims = _transposed(spec, "float32" if spec.dtype == "bfloat16" else spec.dtype, seed)
    # np.array(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
    tensor = torch.from_numpy(np.array(base, order="C", copy=True)).to(device=device,
                                                                       dtype=dtype)
    if dims is not None:
        tensor = tensor.transpose(*dims)
    if spec.requires_grad:
        tensor = tensor.detach().requires_grad_(True)
        if spec.grad is not None:
            tensor.grad = torch.full_like(tensor.detach(), spec.grad)
    return tensor


def build_argument(name: str, value: Any, case_seed: int, device: str) -> Any:
    """One argument of a case: a generated tensor or array, or the literal as written."""
    if not isinstance(value, TensorSpec | ArraySpec):
        return value
    seed = _arg_seed(case_seed, name)
    try:
        if isinstance(value, TensorSpec):
            return build_tensor(value, seed, device)
        return build_array(value, seed)
    except (TypeError, ValueError) as exc:
        # What the spec's type cannot see: values that do not fit the shape or the dtype.
        raise CaseInputError(f"argument {name!r}: {exc}") from exc


def build_inputs(case: CaseSpec, device: str) -> dict[str, Any]:
    """The named arguments of a case, freshly generated (callers may mutate them)."""
    return {
        name: build_argument(name, value, case.seed, device) for name, value in case.args.items()
    }


def describe_input(value: Any, limit: int = 600) -> str:
    """A short, learner-readable rendering of an input of a visible case."""
    if isinstance(value, torch.Tensor):
        flags = f"shape={tuple(value.shape)}, dtype={value.dtype}"
        if value.device.type != "cpu":
            flags += f", device={value.device}"
        if value.requires_grad:
            flags += ", requires_grad=True"
        if not value.is_contiguous():
            flags += f", non-contiguous (stride={value.stride()})"
        if value.grad is not None:
            flags += ", has an existing .grad"
        with torch.no_grad():
            body = np.array2string(value.detach().cpu().float().numpy() if value.dtype ==
                                   torch.bfloat16 else value.detach().cpu().numpy(),
                                   threshold=40, precision=4)
        text = f"tensor({flags})\n{body}"
    elif isinstance(value, np.ndarray):
        order = "" if value.flags.c_contiguous else f", non-contiguous (strides={value.strides})"
        body = np.array2string(value, threshold=40, precision=4)
        text = f"ndarray(shape={value.shape}, dtype={value.dtype}{order})\n{body}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
