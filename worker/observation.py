"""Observations: what a call of a function returned and did, as plain data.

The same code observes the reference (in the trusted process) and the learner (inside the
sandbox), so both sides are described identically. An observation is a JSON header (facts:
dtypes, shapes, strides, storage pointers, ``_version``, autograd flags, identity with inputs,
RNG state) plus numeric arrays, carried as one frame (:mod:`worker.harness.frames`: raw,
uncompressed, authenticated) that the trusted side validates against the models below. Nothing
in it is executed.

In the sandbox, numbers that lie in the runner's shared inputs segment (an input that kept its
memory, a result that shares it) are not copied into the frame: their facts name the slot and
the byte where the first element is (``slot``, ``slot_first``), and the runner reads them from
the segment itself (:func:`worker.shared_inputs.fill`).

The functions this module calls on tensors are captured when it is imported, which in the
sandbox happens before the learner's code is loaded: a learner who monkeypatches
``torch.Tensor`` methods or NumPy functions does not change what is observed.
"""

from __future__ import annotations

import _random
import inspect
import random
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, ValidationError

# Captured before any learner code runs (see the module docstring).
_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
_NDARRAY = np.ndarray
_detach = torch.Tensor.detach
_cpu = torch.Tensor.cpu
_to_numpy = torch.Tensor.numpy
_resolve_conj = torch.Tensor.resolve_conj
_resolve_neg = torch.Tensor.resolve_neg
_data_ptr = torch.Tensor.data_ptr
_untyped_storage = torch.Tensor.untyped_storage
_storage_offset = torch.Tensor.storage_offset
_storage_data_ptr = inspect.getattr_static(torch._C.StorageBase, "data_ptr")
_storage_nbytes = inspect.getattr_static(torch._C.StorageBase, "nbytes")
_stride = torch.Tensor.stride
_is_conj = torch.Tensor.is_conj
_is_neg = torch.Tensor.is_neg
_is_contiguous = torch.Tensor.is_contiguous
_element_size = torch.Tensor.element_size
_numel = torch.Tensor.numel
_float = torch.Tensor.float
_np_array = np.array
_np_asarray = np.asarray
_byte_bounds = np.lib.array_utils.byte_bounds
_torch_rng_state = torch.get_rng_state
_numpy_rng_state = np.random.get_state
_python_rng_state = _random.Random.getstate
_python_rng = random._inst
_to_bytes = np.ndarray.tobytes
RNG_NAMES = ("numpy", "random", "torch")


def _tensor_attribute(name: str) -> Any:
    # The C-level descriptor, so that a learner replacing ``torch.Tensor.shape`` (say) with a
    # property that lies is not believed.
    return inspect.getattr_static(torch._C.TensorBase, name).__get__


_shape = _tensor_attribute("shape")
_dtype = _tensor_attribute("dtype")
_device = _tensor_attribute("device")
_requires_grad = _tensor_attribute("requires_grad")
_is_leaf = _tensor_attribute("is_leaf")
_grad_fn = _tensor_attribute("grad_fn")
_grad = _tensor_attribute("grad")
_version = _tensor_attribute("_version")
_layout = _tensor_attribute("layout")
_is_quantized = _tensor_attribute("is_quantized")
requires_grad_of = _requires_grad

NUMERIC_KINDS = frozenset("biufc")
MAX_SEQUENCE_ITEMS = 64
# torch dtypes whose numbers NumPy holds as they are, so that they can be read from memory as
# bytes (bfloat16 and the like cannot).
NUMPY_DTYPES: dict[torch.dtype, np.dtype[Any]] = {
    torch.bool: np.dtype(np.bool_), torch.uint8: np.dtype(np.uint8),
    torch.int8: np.dtype(np.int8), torch.int16: np.dtype(np.int16),
    torch.int32: np.dtype(np.int32), torch.int64: np.dtype(np.int64),
    torch.float16: np.dtype(np.float16), torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64), torch.complex64: np.dtype(np.complex64),
    torch.complex128: np.dtype(np.complex128),
}
#: The dtype of a value's numbers, by the name its facts give (``torch.float32``, ``float32``):
#: the only dtypes the trusted side reads from memory.
MEMORY_DTYPES: dict[str, np.dtype[Any]] = {
    **{str(t): n for t, n in NUMPY_DTYPES.items()},
    **{str(n): n for n in (*NUMPY_DTYPES.values(), np.dtype(np.uint16), np.dtype(np.uint32),
                           np.dtype(np.uint64))},
}


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueFacts(_Facts):
    """What is known of one value: a tensor, an array, a scalar, a sequence or something else."""

    kind: Literal["tensor", "ndarray", "scalar", "none", "sequence", "other", "too_large"]
    type: str
    array: int | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    stride: tuple[int, ...] | None = None  # in elements, for tensors and arrays alike
    storage_offset: int | None = None
    device: str | None = None
    requires_grad: bool | None = None
    is_leaf: bool | None = None
    grad_fn: str | None = None
    version: int | None = None
    data_ptr: int | None = None
    storage_ptr: int | None = None
    storage_nbytes: int | None = None
    mem: tuple[int, int] | None = None  # byte range [low, high) the elements occupy
    contiguous: bool | None = None
    nbytes: int | None = None
    items: tuple[ValueFacts, ...] | None = None
    length: int | None = None  # of a sequence, also when it is too long for its items to be kept
    grad: ValueFacts | None = None
    # The numbers lie in shared inputs slot number ``slot``, the first element ``slot_first``
    # bytes from its start (the sandbox only; see the module docstring).
    slot: int | None = None
    slot_first: int | None = None


class ErrorFacts(_Facts):
    """An exception raised by the observed function (learner frames only in the traceback)."""

    type: str
    message: str
    traceback: str = ""


class GradProbe(_Facts):
    """Gradients of ``result.sum()`` with respect to each input that requires grad."""

    grads: dict[str, ValueFacts | None] = {}
    error: str | None = None


class GradcheckProbe(_Facts):
    """Outcome of ``torch.autograd.gradcheck`` on float64 copies of the inputs."""

    passed: bool
    message: str = ""


class ObservationHeader(_Facts):
    """The JSON part of an observation."""

    case: str
    status: Literal["returned", "raised"]
    error: ErrorFacts | None = None
    result: ValueFacts | None = None
    result_is: tuple[str, ...] = ()
    inputs_before: dict[str, ValueFacts] = {}
    inputs_after: dict[str, ValueFacts] = {}
    rng_changed: tuple[str, ...] = ()
    grad_of_sum: GradProbe | None = None
    gradcheck: GradcheckProbe | None = None
    duration_s: float = 0.0


class ObservationError(Exception):
    """An observation payload is malformed, too large, or not numeric data."""


@dataclass(frozen=True)
class Value:
    """A decoded value: its facts and, for tensors, arrays and scalars, its numbers."""

    facts: ValueFacts
    data: np.ndarray | None = None
    items: tuple[Value, ...] = ()
    grad: Value | None = None

    @property
    def kind(self) -> str:
        """``tensor``, ``ndarray``, ``scalar``, ``none``, ``sequence``, ``other``, ``too_large``."""
        return self.facts.kind

    def describe(self) -> str:
        """How the learner is told what this value is, e.g. ``a float32 tensor of shape (2, 3)``."""
        f = self.facts
        if f.kind == "tensor":
            dtype = (f.dtype or "").removeprefix("torch.")
            where = "" if f.device in (None, "cpu") else f" on {f.device}"
            return f"{article(dtype)} {dtype} tensor of shape {tuple(f.shape or ())}{where}"
        if f.kind == "ndarray":
            return f"{article(str(f.dtype))} {f.dtype} NumPy array of shape {tuple(f.shape or ())}"
        if f.kind == "scalar":
            return f"a Python {f.type} ({_scalar_text(self.data)})"
        if f.kind == "none":
            return "None"
        if f.kind == "sequence":
            count = f.length if f.length is not None else len(f.items or ())
            return f"a {f.type} of {count} items"
        if f.kind == "too_large":
            return f"a {f.type} too large to inspect ({f.nbytes} bytes)"
        return f"an object of type {f.type}"


def article(word: str) -> str:
    """``an`` before int64, ``a`` before float32 and uint8 (said "you-int")."""
    return "an" if word[:1] in ("a", "e", "i", "o") else "a"


def _scalar_text(data: np.ndarray | None) -> str:
    return "?" if data is None else repr(data.item())


@dataclass
class Observation:
    """A decoded observation of one call."""

    header: ObservationHeader
    result: Value | None
    inputs_after: dict[str, Value]
    grads: dict[str, Value | None] = field(default_factory=dict)

    def target(self, path: str) -> Value | None:
        """The value a check looks at: ``result``, ``result.0``, ``input.x``, ``input.x.grad``,
        ``grad.x`` (gradient of ``result.sum()``). None when it does not exist."""
        parts = path.split(".")
        value: Value | None
        if parts[0] == "result":
            value, rest = self.result, parts[1:]
        elif parts[0] == "input" and len(parts) >= 2:
            value, rest = self.inputs_after.get(parts[1]), parts[2:]
        elif parts[0] == "grad" and len(parts) == 2:
            return self.grads.get(parts[1])
        else:
            raise ValueError(f"unknown target {path!r}")
        for part in rest:
            if value is None:
                return None
            if part == "grad":
                value = value.grad
            elif part.isdigit() and int(part) < len(value.items):
                value = value.items[int(part)]
            else:
                return None
        return value


# ---------------------------------------------------------------------------------------------
# Observing (runs where the function runs)


class Encoder:
    """Turns Python values into facts plus numbered arrays, within a byte budget.

    ``regions`` are the shared inputs slots as mapped here (address and length, by slot
    number): numbers found wholly inside one are referred to, not copied."""

    def __init__(self, max_bytes: int, regions: tuple[tuple[int, int], ...] = ()) -> None:
        self.arrays: list[np.ndarray] = []
        self.budget = max_bytes
        self.regions = regions

    def _in_slot(self, facts: dict[str, Any], low: int, high: int, nbytes: int) -> bool:
        """Refer to a slot for numbers occupying bytes [low, high), if one holds them all."""
        for number, (start, length) in enumerate(self.regions):
            if start <= low and high <= start + length:
                self.budget -= nbytes
                facts["slot"], facts["slot_first"] = number, low - start
                return True
        return False

    def _store(self, array: np.ndarray) -> int | None:
        if array.nbytes > self.budget:
            return None
        self.budget -= array.nbytes
        self.arrays.append(array)
        return len(self.arrays) - 1

    def encode(self, value: Any, depth: int = 0, with_data: bool = True) -> dict[str, Any]:
        """Facts of ``value`` (a JSON-able dict); numbers go to ``self.arrays``."""
        kind = type(value)
        type_name = f"{kind.__module__}.{kind.__qualname__}"
        if kind in _TENSOR_TYPES:
            return self._tensor(value, type_name, with_data)
        if kind is _NDARRAY:
            return self._ndarray(value, type_name, with_data)
        if value is None:
            return {"kind": "none", "type": "None"}
        if kind in (bool, int, float) or (isinstance(value, np.generic) and kind.__module__ ==
                                          "numpy"):
            array = _np_asarray(value) if kind is not int or abs(value) < 2**62 else None
            if array is None or array.dtype.kind not in NUMERIC_KINDS:
                return {"kind": "other", "type": type_name}
            return {"kind": "scalar", "type": kind.__qualname__, "array": self._store(array),
                    "dtype": str(array.dtype)}
        if kind in (tuple, list):
            # Long or deep sequences are reported as such, without their items.
            keep = depth < 4 and len(value) <= MAX_SEQUENCE_ITEMS
            items = [self.encode(item, depth + 1, with_data) for item in value] if keep else None
            return {"kind": "sequence", "type": kind.__qualname__, "items": items,
                    "length": len(value)}
        return {"kind": "other", "type": type_name}

    def _tensor(self, t: torch.Tensor, type_name: str, with_data: bool) -> dict[str, Any]:
        item = _element_size(t)
        storage = _untyped_storage(t)
        numel = _numel(t)
        ptr = _data_ptr(t)
        shape = tuple(_shape(t))
        stride = tuple(_stride(t))
        span = 1 + sum((n - 1) * s for n, s in zip(shape, stride, strict=True) if n > 0)
        grad_fn = _grad_fn(t)
        requires_grad = bool(_requires_grad(t))
        is_leaf = bool(_is_leaf(t))
        facts: dict[str, Any] = {
            "kind": "tensor",
            "type": type_name,
            "dtype": str(_dtype(t)),
            "shape": shape,
            "stride": stride,
            "storage_offset": _storage_offset(t),
            "device": str(_device(t)),
            "requires_grad": requires_grad,
            "is_leaf": is_leaf,
            "grad_fn": None if grad_fn is None else type(grad_fn).__name__,
            "version": int(_version(t)),
            "data_ptr": ptr,
            "storage_ptr": _storage_data_ptr(storage),
            "storage_nbytes": _storage_nbytes(storage),
            "mem": (ptr, ptr + span * item) if numel else (ptr, ptr),
            "contiguous": bool(_is_contiguous(t)),
            "nbytes": numel * item,
        }
        if with_data:
            if numel * item > self.budget:
                facts["kind"] = "too_large"
            elif not (self.regions and numel and self._plain(t) and self._in_slot(
                    facts, ptr, ptr + span * item, numel * item)):
                array = self._tensor_data(t)
                if array is None:
                    facts["kind"] = "other"
                    facts["type"] = f"{type_name} with layout {_layout(t)}"
                else:
                    facts["array"] = self._store(array)
            grad = _grad(t) if is_leaf and requires_grad else None
            if grad is not None:
                facts["grad"] = self.encode(grad)
        return facts

    @staticmethod
    def _plain(t: torch.Tensor) -> bool:
        """Whether ``t``'s numbers are its memory's bytes read as they are: strided, on the
        CPU, of a NumPy dtype, no lazy conjugation or negation, no negative stride."""
        return (_layout(t) == torch.strided and _device(t).type == "cpu"
                and _dtype(t) in NUMPY_DTYPES and not _is_quantized(t) and not _is_conj(t)
                and not _is_neg(t) and min(_stride(t), default=0) >= 0)

    @staticmethod
    def _tensor_data(t: torch.Tensor) -> np.ndarray | None:
        if _layout(t) != torch.strided or _is_quantized(t) or _device(t).type == "meta":
            return None
        data = _cpu(_resolve_neg(_resolve_conj(_detach(t))))
        if _dtype(data) == torch.bfloat16:
            data = _float(data)
        return _np_array(_to_numpy(data), copy=True)

    def _ndarray(self, a: np.ndarray, type_name: str, with_data: bool) -> dict[str, Any]:
        if a.dtype.kind not in NUMERIC_KINDS:
            return {"kind": "other", "type": f"{type_name} of dtype {a.dtype}"}
        low, high = _byte_bounds(a) if a.size else (0, 0)
        facts: dict[str, Any] = {
            "kind": "ndarray",
            "type": type_name,
            "dtype": str(a.dtype),
            "shape": tuple(a.shape),
            "stride": tuple(s // a.itemsize for s in a.strides),
            "data_ptr": int(a.__array_interface__["data"][0]),
            "mem": (int(low), int(high)),
            "contiguous": bool(a.flags.c_contiguous),
            "nbytes": int(a.nbytes),
        }
        if with_data:
            if a.nbytes > self.budget:
                facts["kind"], facts["array"] = "too_large", None
            elif not (self.regions and a.size and a.dtype.isnative and str(a.dtype) in
                      MEMORY_DTYPES and min(a.strides, default=0) >= 0 and self._in_slot(
                          facts, int(low), int(high), int(a.nbytes))):
                facts["array"] = self._store(_np_array(a, copy=True))
        return facts


def rng_states() -> dict[str, object]:
    """Copies of the global random states that a learner's function must leave alone, to
    compare (``==``) with the states after the call: the raw bytes of torch's and NumPy's,
    Python's state tuple. Read with functions captured at import, so that a learner replacing
    ``random.getstate`` (say) does not hide a change."""
    np_state: Any = _numpy_rng_state()
    return {
        "torch": _to_bytes(_to_numpy(_torch_rng_state())),
        "numpy": (_to_bytes(np_state[1]), np_state[2], np_state[3], np_state[4]),
        "random": _python_rng_state(_python_rng),
    }


# ---------------------------------------------------------------------------------------------
# Decoding (runs on the trusted side)


def _value(facts: ValueFacts | None, arrays: dict[int, np.ndarray], slots: int) -> (
        Value | None):
    if facts is None:
        return None
    # Numbers in the shared inputs segment: the runner attaches them after the run.
    if facts.slot is not None and (
            facts.array is not None or not 0 <= facts.slot < slots or facts.slot_first is None
            or facts.kind not in ("tensor", "ndarray")):
        raise ObservationError("a value refers to shared memory it cannot be in")
    data = arrays.get(facts.array) if facts.array is not None else None
    if data is not None and facts.shape is not None and tuple(data.shape) != facts.shape:
        raise ObservationError("array shape disagrees with its facts")
    items = tuple(v for v in (_value(i, arrays, slots) for i in facts.items or ())
                  if v is not None)
    return Value(facts=facts, data=data, items=items, grad=_value(facts.grad, arrays, slots))


def decode(header: dict[str, Any], arrays: dict[int, np.ndarray], slots: int = 0) -> (
        Observation):
    """Validate a header against the schema and attach its arrays. ``slots``: how many shared
    inputs slots the run had (values referring to one get their numbers later, from the
    runner; a reference to any other is an error)."""
    try:
        parsed = ObservationHeader.model_validate(header)
    except ValidationError as exc:
        raise ObservationError(f"observation does not match the schema: {exc}") from exc
    grads: dict[str, Value | None] = {}
    if parsed.grad_of_sum is not None:
        grads = {k: _value(v, arrays, slots) for k, v in parsed.grad_of_sum.grads.items()}
    return Observation(
        header=parsed,
        result=_value(parsed.result, arrays, slots),
        inputs_after={k: v for k, f in parsed.inputs_after.items()
                      if (v := _value(f, arrays, slots)) is not None},
        grads=grads,
    )
