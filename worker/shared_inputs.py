"""Case inputs in memory the runner owns, so that what a call did to them is read, not reported.

For a CPU job the sandbox's runner builds the job's inputs itself (once per case spec: the
generators are deterministic) and lays out, in a memfd of the warm child's, the storage of every
top-level tensor and array input of the job's cases at offsets it decides (a :class:`Slot`
each, with the input's layout), writes their bytes there, and seals the memfd's size. The
child, before the learner's code loads, maps the memfd and closes it, keeping only the mapping,
and makes each slotted input over its slot (:func:`build`): it generates nothing for them.
After the run the runner reads the slots back itself: the inputs' numbers after the call are
facts from the trusted side, whatever the learner's process reports. Learner code that swapped
an input's storage (``x.data = y``, ``x.set_(...)``) is told so by the memory checks; its
original memory, here, is what it was.

Only what the runner can read back exactly goes in a slot: CPU tensors (``torch.Tensor`` and
``Parameter``) of a dtype NumPy has, and NumPy arrays of numeric dtypes whose memory is one
C-contiguous owner. Other inputs the child builds from their specs.
"""

from __future__ import annotations

import ctypes
import dataclasses
import mmap
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from common.spec import CaseSpec
from worker.cases import build_argument
from worker.observation import (
    MEMORY_DTYPES,
    NUMPY_DTYPES,
    Observation,
    ObservationError,
    Value,
    ValueFacts,
)

ALIGN = 64
_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
_TORCH_DTYPES = {str(t): t for t in NUMPY_DTYPES}  # "torch.float32": torch.float32


@dataclass(frozen=True)
class Slot:
    """Where one input's memory lives in the shared segment, and how the input lies in it."""

    case: str
    name: str
    kind: str  # "tensor": the whole storage; "ndarray": the array's owner
    offset: int
    nbytes: int
    first_byte: int = 0  # of an array's first element, from its owner's start
    dtype: str = ""  # torch.float32 for a tensor, float32 for an array
    shape: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()  # a tensor's in elements, an array's in bytes
    storage_offset: int = 0  # a tensor's, in elements
    requires_grad: bool = False  # a tensor's
    grad: float | None = None  # what a tensor's pre-existing .grad is filled with

    def as_list(self) -> list[Any]:
        """The slot as the job carries it (JSON)."""
        return [self.case, self.name, self.kind, self.offset, self.nbytes, self.first_byte,
                self.dtype, list(self.shape), list(self.strides), self.storage_offset,
                self.requires_grad, self.grad]

    @classmethod
    def from_list(cls, raw: Sequence[Any]) -> Slot:
        """The inverse of :meth:`as_list`."""
        (case, name, kind, offset, nbytes, first_byte, dtype, shape, strides, storage_offset,
         requires_grad, grad) = raw
        return cls(str(case), str(name), str(kind), int(offset), int(nbytes), int(first_byte),
                   str(dtype), tuple(int(n) for n in shape), tuple(int(n) for n in strides),
                   int(storage_offset), bool(requires_grad),
                   None if grad is None else float(grad))


def _owner(array: np.ndarray) -> np.ndarray | None:
    """The C-contiguous array that owns ``array``'s memory, if it is one."""
    owner = array
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if owner.base is not None or not owner.flags.c_contiguous:
        return None
    return owner


def _memory(value: Any) -> tuple[str, int, int, int] | None:
    """(kind, bytes, first byte, address of the memory's start) of an input that can have a
    slot; None for the others."""
    if type(value) in _TENSOR_TYPES:
        t: torch.Tensor = value
        if (t.device.type != "cpu" or t.layout != torch.strided or t.dtype not in NUMPY_DTYPES
                or t.is_quantized or t.untyped_storage().nbytes() == 0):
            return None
        storage = t.untyped_storage()
        return "tensor", storage.nbytes(), 0, storage.data_ptr()
    if type(value) is np.ndarray and value.dtype.kind in "biufc" and value.size:
        owner = _owner(value)
        if owner is None:
            return None
        start = owner.__array_interface__["data"][0]
        return "ndarray", owner.nbytes, value.__array_interface__["data"][0] - start, start
    return None


def plan(inputs: Mapping[str, Mapping[str, Any]]) -> tuple[Slot, ...]:
    """Slots for the inputs of each case (by case name, then argument name), in order.
    Inputs that share memory with one placed before keep their own (no slot)."""
    slots = []
    offset = 0
    seen: set[int] = set()
    for case, values in inputs.items():
        for name, value in values.items():
            memory = _memory(value)
            if memory is None or memory[3] in seen:
                continue
            kind, nbytes, first, start = memory
            seen.add(start)
            if kind == "tensor":
                grad = value.grad  # generated ones are filled with one number
                layout = {"dtype": str(value.dtype), "shape": tuple(value.shape),
                          "strides": tuple(value.stride()),
                          "storage_offset": value.storage_offset(),
                          "requires_grad": bool(value.requires_grad),
                          "grad": None if grad is None or not grad.numel()
                          else float(grad.reshape(-1)[0])}
            else:
                layout = {"dtype": str(value.dtype), "shape": value.shape,
                          "strides": value.strides}
            slots.append(Slot(case, name, kind, offset, nbytes, first, **layout))
            offset += (nbytes + ALIGN - 1) // ALIGN * ALIGN
    return tuple(slots)


def image(inputs: Mapping[str, Mapping[str, Any]], slots: tuple[Slot, ...]) -> bytes:
    """The segment's bytes: every slotted input's memory at its slot's offset."""
    segment = bytearray(size(slots))
    for slot in slots:
        value = inputs[slot.case][slot.name]
        if slot.kind == "tensor":
            memory = value.detach().untyped_storage()
            raw = torch.empty(0, dtype=torch.uint8).set_(memory).numpy()
        else:
            owner = _owner(value)
            assert owner is not None
            raw = owner.reshape(-1).view(np.uint8)
        segment[slot.offset:slot.offset + slot.nbytes] = raw.tobytes()
    return bytes(segment)


def size(slots: tuple[Slot, ...]) -> int:
    """The segment's size in bytes."""
    return max((s.offset + s.nbytes for s in slots), default=0)


# -- in the child, before learner code loads ---------------------------------------------------


def build(cases: Sequence[CaseSpec], device: str, slots: tuple[Slot, ...], fd: int | None) -> (
        tuple[dict[str, dict[str, Any]], tuple[tuple[int, int], ...]]):
    """Every case's inputs: the slotted ones made over the segment ``fd`` (mapped, then
    closed), the others built from their specs. Returns them (by case, then argument, in the
    specs' order) and where each slot is mapped (address and length, for the observations'
    :class:`~worker.observation.Encoder`). Raises ValueError when a slot does not describe an
    input it can hold (the runner and the child disagree)."""
    segment: memoryview | None = None
    base = 0
    if fd is not None:
        length = os.fstat(fd).st_size
        if slots and length:
            base, segment = _map_shared(fd, length)
        os.close(fd)  # the mapping stays; no descriptor is left to find
    placed = {(s.case, s.name): s for s in slots} if segment is not None else {}
    inputs: dict[str, dict[str, Any]] = {}
    for case in cases:
        inputs[case.name] = {
            name: _over(segment, placed[case.name, name]) if (case.name, name) in placed
            else build_argument(name, spec, case.seed, device)
            for name, spec in case.args.items()
        }
    if segment is None:
        return inputs, ()
    return inputs, tuple((base + slot.offset, slot.nbytes) for slot in slots)


def _over(segment: memoryview | None, slot: Slot) -> Any:
    """The input ``slot`` describes, made over its bytes, and over those only: an array's
    ``.base`` (a memoryview learner code can read whole) must not lead to the other cases'
    inputs, hidden ones included, which lie next to it."""
    assert segment is not None
    if slot.offset < 0 or slot.offset + slot.nbytes > len(segment):
        raise ValueError(f"input {slot.case}/{slot.name}: its slot is outside the segment")
    own = segment[slot.offset:slot.offset + slot.nbytes]
    if slot.kind == "tensor":
        dtype = _TORCH_DTYPES.get(slot.dtype)
        if dtype is None:
            raise ValueError(f"input {slot.case}/{slot.name} does not fit its shared slot")
        region = torch.frombuffer(own, dtype=torch.uint8)
        tensor = torch.empty(0, dtype=dtype).set_(region.untyped_storage(),
                                                  slot.storage_offset, slot.shape, slot.strides)
        if slot.requires_grad:
            tensor.requires_grad_(True)
            if slot.grad is not None:
                tensor.grad = torch.full_like(tensor.detach(), slot.grad)
        return tensor
    numpy_dtype = MEMORY_DTYPES.get(slot.dtype)
    if numpy_dtype is None or slot.kind != "ndarray":
        raise ValueError(f"input {slot.case}/{slot.name} does not fit its shared slot")
    return np.ndarray(slot.shape, numpy_dtype, buffer=own, offset=slot.first_byte,
                      strides=slot.strides)


def _libc_calls() -> tuple[Any, Any]:
    libc = ctypes.CDLL(None, use_errno=True)
    mmap_ = libc.mmap
    mmap_.restype = ctypes.c_void_p
    mmap_.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
    view = ctypes.pythonapi.PyMemoryView_FromMemory
    view.restype = ctypes.py_object
    view.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int]
    return mmap_, view


# Bound once, at import (in the zygote): a child only calls them.
_mmap, _memory_view = _libc_calls()
_WRITABLE = 0x200  # PyBUF_WRITE


def _map_shared(fd: int, length: int) -> tuple[int, memoryview]:
    """``fd`` mapped shared and writable: its address, and a memoryview of it. No descriptor
    is kept (Python's ``mmap`` keeps a duplicate, which learner code could find and read other
    cases' inputs through). Never unmapped: the process ends after the job."""
    address = _mmap(None, length, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap of the shared inputs failed")
    return address, _memory_view(address, length, _WRITABLE)


# -- on the trusted side, after the run --------------------------------------------------------


def fill(segment: bytes, slots: tuple[Slot, ...], observations: dict[str, Observation],
         budget: int) -> None:
    """Attach to every value the child reported as lying in a slot (see
    :mod:`worker.observation`) the numbers read from ``segment``, viewed as its facts describe
    it (dtype, shape, strides from the first element, bounded by the slot). At most ``budget``
    bytes of such numbers per observation, as for numbers sent in the frame. Raises
    ObservationError for a reference the harness never makes (out of its slot, say)."""
    for observation in observations.values():
        reader = _SlotReader(segment, slots, budget)
        observation.result = reader.filled(observation.result)
        observation.inputs_after = {n: reader.value(v) for n, v in observation.inputs_after.items()}
        observation.grads = {n: reader.filled(v) for n, v in observation.grads.items()}


@dataclass
class _SlotReader:
    """Numbers from the segment for one observation's values, within its byte budget."""

    segment: bytes
    slots: tuple[Slot, ...]
    left: int

    def filled(self, value: Value | None) -> Value | None:
        """:meth:`value`, or None for None."""
        return None if value is None else self.value(value)

    def value(self, value: Value) -> Value:
        """``value`` with its numbers (and its items' and gradient's) read from its slot."""
        data = self.numbers(value.facts) if value.facts.slot is not None else value.data
        items = tuple(map(self.value, value.items))
        grad = self.filled(value.grad)
        if data is value.data and grad is value.grad and all(
                a is b for a, b in zip(items, value.items, strict=True)):
            return value
        return dataclasses.replace(value, data=data, items=items, grad=grad)

    def numbers(self, facts: ValueFacts) -> np.ndarray:
        """A read-only view of the segment, as ``facts`` lay the numbers out."""
        assert facts.slot is not None and facts.slot_first is not None  # decode made sure
        dtype = MEMORY_DTYPES.get(facts.dtype or "")
        if dtype is None or facts.shape is None or facts.stride is None:
            raise ObservationError("a value in shared memory has no readable layout")
        count = int(np.prod(facts.shape, dtype=np.int64)) if facts.shape else 1
        self.left -= count * dtype.itemsize
        view = _bounded(self.segment, self.slots[facts.slot], dtype, facts.shape, facts.stride,
                        facts.slot_first)
        if view is None or count <= 0 or self.left < 0:
            raise ObservationError("a value's numbers reach outside its shared memory slot")
        return view


def read_back(segment: bytes, slots: tuple[Slot, ...],
              observations: dict[str, Observation]) -> None:
    """Replace, in ``observations``, the numbers the child *sent* for a slotted input that kept
    its memory with those read from the segment, viewed as the child says the input now is
    (its dtype, shape, strides and offset, bounded by the slot): a harness that sends numbers
    rather than referring to the slot is not believed either. An input the call re-pointed, or
    one whose view leaves its slot, keeps what was reported (the memory checks fail it)."""
    for slot in slots:
        got = observations.get(slot.case)
        if got is None:
            continue
        after = got.inputs_after.get(slot.name)
        before = got.header.inputs_before.get(slot.name)
        if after is None or before is None or after.data is None or after.facts.slot is not None:
            continue
        facts = after.facts
        if facts.kind != slot.kind or facts.data_ptr != before.data_ptr or (
                facts.storage_ptr != before.storage_ptr):
            continue
        trusted = _view(segment, slot, after)
        if trusted is not None and trusted.shape == after.data.shape:
            got.inputs_after[slot.name] = dataclasses.replace(after, data=trusted)


def _view(segment: bytes, slot: Slot, after: Value) -> np.ndarray | None:
    facts = after.facts
    assert after.data is not None
    dtype = after.data.dtype
    if facts.shape is None or facts.stride is None:
        return None
    if slot.kind == "tensor":
        if facts.storage_offset is None or facts.dtype is None:
            return None
        if MEMORY_DTYPES.get(facts.dtype) != dtype:
            return None
        first = facts.storage_offset * dtype.itemsize
    else:
        first = slot.first_byte
    return _bounded(segment, slot, dtype, facts.shape, facts.stride, first)


def _bounded(segment: bytes, slot: Slot, dtype: np.dtype[Any], shape: tuple[int, ...],
             stride: tuple[int, ...], first: int) -> np.ndarray | None:
    """The numbers laid out by ``shape`` and ``stride`` (in elements) from byte ``first`` of
    ``slot``, as a read-only view of ``segment``; None when that is no layout (negative
    sizes or strides, too many dimensions) or reaches outside the slot."""
    if (len(shape) != len(stride) or len(shape) > 32 or min(shape, default=1) < 0
            or min(stride, default=0) < 0 or first < 0):
        return None
    strides = tuple(s * dtype.itemsize for s in stride)
    span = sum((n - 1) * s for n, s in zip(shape, strides, strict=True) if n > 0)
    if first + span + dtype.itemsize > slot.nbytes:
        return None
    return np.ndarray(shape, dtype, buffer=segment, offset=slot.offset + first, strides=strides)
