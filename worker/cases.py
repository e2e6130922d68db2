"""Case inputs: generated from a seed, identically for the reference and the learner.

An argument in ``exercise.yaml`` is either a literal (number, string, list) or a generator spec,
a mapping with a ``gen`` key:

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
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from common.spec import CaseSpec, ExerciseError

GENERATORS = ("tensor", "array")


class CaseInputError(ExerciseError):
    """A case's generator spec cannot be built."""


def _arg_seed(case_seed: int, name: str) -> int:
    # Each argument gets its own stream, so adding an argument does not shift the others.
    return (case_seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63)


def _numpy_values(spec: Mapping[str, Any], seed: int) -> np.ndarray:
    dtype = np.dtype(spec.get("dtype", "float32"))
    if "values" in spec:
        return np.array(spec["values"], dtype=dtype)
    shape = tuple(int(n) for n in spec.get("shape", ()))
    dist = spec.get("dist", "uniform")
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape)) if shape else 1
    data: np.ndarray
    if dist == "uniform":
        data = rng.uniform(float(spec.get("low", 0.0)), float(spec.get("high", 1.0)), shape)
    elif dist == "normal":
        data = rng.normal(float(spec.get("mean", 0.0)), float(spec.get("std", 1.0)), shape)
    elif dist == "int":
        data = rng.integers(int(spec.get("low", 0)), int(spec.get("high", 10)), shape)
    elif dist == "bool":
        data = rng.random(shape) < float(spec.get("p", 0.5))
    elif dist == "linspace":
        data = np.linspace(float(spec["low"]), float(spec["high"]), size).reshape(shape)
    elif dist == "arange":
        data = np.arange(size).reshape(shape)
    elif dist == "full":
        data = np.full(shape, spec.get("value", 0))
    else:
        raise CaseInputError(f"unknown dist {dist!r}")
    return np.asarray(data).astype(dtype)


def _transposed(spec: Mapping[str, Any], seed: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Values of the requested shape, made first in the swapped layout when asked to transpose."""
    dims = spec.get("transpose")
    if dims is None:
        return _numpy_values(spec, seed), None
    d0, d1 = (int(d) for d in dims)
    shape = list(spec.get("shape", ()))
    shape[d0], shape[d1] = shape[d1], shape[d0]
    base = _numpy_values({**spec, "shape": shape}, seed)
    return base, (d0, d1)


def build_array(spec: Mapping[str, Any], seed: int) -> np.ndarray:
    """A NumPy array from a generator spec (see the module docstring)."""
    base, dims = _transposed(spec, seed)
    return base if dims is None else base.swapaxes(*dims)


def build_tensor(spec: Mapping[str, Any], seed: int, device: str) -> torch.Tensor:
    """A torch tensor from a generator spec, on ``device``."""
    # bfloat16 has no NumPy dtype: build in float32 and convert.
    dtype_name = str(spec.get("dtype", "float32"))
    dtype = getattr(torch, dtype_name, None)
    if not isinstance(dtype, torch.dtype):
        raise CaseInputError(f"unknown dtype {dtype_name!r}")
    np_spec = {**spec, "dtype": "float32" if dtype_name == "bfloat16" else dtype_name}
    base, dims = _transposed(np_spec, seed)
    # np.array(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
    tensor = torch.from_numpy(np.array(base, order="C", copy=True)).to(device=device,
                                                                       dtype=dtype)
    if dims is not None:
        tensor = tensor.transpose(*dims)
    if spec.get("requires_grad"):
        tensor = tensor.detach().requires_grad_(True)
        if spec.get("grad") is not None:
            tensor.grad = torch.full_like(tensor.detach(), float(spec["grad"]))
    return tensor


def build_argument(name: str, value: Any, case_seed: int, device: str) -> Any:
    """One argument of a case: a generated tensor or array, or the literal as written."""
    if not isinstance(value, Mapping) or "gen" not in value:
        return value
    seed = _arg_seed(case_seed, name)
    kind = value["gen"]
    try:
        if kind == "tensor":
            return build_tensor(value, seed, device)
        if kind == "array":
            return build_array(value, seed)
    except (KeyError, TypeError, ValueError) as exc:
        raise CaseInputError(f"argument {name!r}: {exc}") from exc
    raise CaseInputError(f"argument {name!r}: unknown generator {kind!r}; known: {GENERATORS}")


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
