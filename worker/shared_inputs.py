"""Case inputs in memory the runner owns, so that what a call did to them is read, not reported.

For a CPU job the sandbox's runner sizes a memfd (one per warm child) to hold the storage of
every top-level tensor and array input of the job's cases, at offsets it decides (a
:class:`Slot` each). The child, before the learner's code loads, copies each input it built into
its slot and re-points the input there (``Tensor.set_``; a new array over the slot), then closes
the memfd, keeping only the mapping. After the run the runner reads the slots back itself: the
inputs' numbers after the call are facts from the trusted side, whatever the learner's process
reports. Learner code that swapped an input's storage (``x.data = y``, ``x.set_(...)``) is told
so by the memory checks; its original memory, here, is what it was.

Only what the runner can read back exactly goes in a slot: CPU tensors (``torch.Tensor`` and
``Parameter``) of a dtype NumPy has, and NumPy arrays of numeric dtypes whose memory is one
C-contiguous owner. Other inputs stay as the child built them.
"""

from __future__ import annotations

import ctypes
import dataclasses
import mmap
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

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


@dataclass(frozen=True)
class Slot:
    """Where one input's memory lives in the shared segment."""

    case: str
    name: str
    kind: str  # "tensor": the whole storage; "ndarray": the array's owner
    offset: int
    nbytes: int
    first_byte: int = 0  # of an array's first element, from its owner's start

    def as_list(self) -> list[Any]:
        """The slot as the job carries it (JSON)."""
        return [self.case, self.name, self.kind, self.offset, self.nbytes, self.first_byte]

    @classmethod
    def from_list(cls, raw: list[Any]) -> Slot:
        """The inverse of :meth:`as_list`."""
        case, name, kind, offset, nbytes, first_byte = raw
        return cls(str(case), str(name), str(kind), int(offset), int(nbytes), int(first_byte))


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
            slots.append(Slot(case, name, kind, offset, nbytes, first))
            offset += (nbytes + ALIGN - 1) // ALIGN * ALIGN
    return tuple(slots)


def size(slots: tuple[Slot, ...]) -> int:
    """The segment's size in bytes."""
    return max((s.offset + s.nbytes for s in slots), default=0)


# -- in the child, before learner code loads ---------------------------------------------------


def transplant(inputs: dict[str, dict[str, Any]], slots: tuple[Slot, ...], fd: int) -> (
        tuple[tuple[int, int], ...]):
    """Move each slotted input into the segment ``fd`` (mapped, then closed). Returns where
    each slot is mapped (address and length, for the observations' :class:`Encoder`). Raises
    ValueError when an input does not fit its slot (the runner and the child disagree)."""
    length = os.fstat(fd).st_size
    if not slots or length == 0:
        os.close(fd)
        return ()
    segment = _map_shared(fd, length)
    os.close(fd)  # the mapping stays; no descriptor is left to find
    base = ctypes.addressof(segment)
    for slot in slots:
        value = inputs[slot.case][slot.name]
        memory = _memory(value)
        if memory is None or memory[:2] != (slot.kind, slot.nbytes):
            raise ValueError(f"input {slot.case}/{slot.name} does not fit its shared slot")
        region = torch.frombuffer(segment, dtype=torch.uint8, count=slot.nbytes,
                                  offset=slot.offset)
        if slot.kind == "tensor":
            storage = region.untyped_storage()
            storage.copy_(value.untyped_storage())
            with torch.no_grad():
                value.set_(storage, value.storage_offset(), value.size(), value.stride())
        else:
            owner = _owner(value)
            assert owner is not None
            region.numpy()[:] = owner.reshape(-1).view(np.uint8)
            moved = np.ndarray(value.shape, value.dtype, buffer=memoryview(segment),
                               offset=slot.offset + slot.first_byte, strides=value.strides)
            moved.flags.writeable = value.flags.writeable
            inputs[slot.case][slot.name] = moved
    return tuple((base + slot.offset, slot.nbytes) for slot in slots)


def _map_shared(fd: int, length: int) -> ctypes.Array[ctypes.c_char]:
    """``fd`` mapped shared and writable, as a buffer, keeping no descriptor (Python's
    ``mmap`` keeps a duplicate, which learner code could find and read other cases' inputs
    through). Never unmapped: the process ends after the job."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    address = libc.mmap(None, length, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap of the shared inputs failed")
    return (ctypes.c_char * length).from_address(address)


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
        if dtype is None or facts.shape is None or facts.stride is None or len(
                facts.shape) != len(facts.stride) or len(facts.shape) > 32:
            raise ObservationError("a value in shared memory has no readable layout")
        slot = self.slots[facts.slot]
        count = int(np.prod(facts.shape, dtype=np.int64)) if facts.shape else 1
        strides = tuple(s * dtype.itemsize for s in facts.stride)
        span = sum((n - 1) * s for n, s in zip(facts.shape, strides, strict=True) if n > 0)
        self.left -= count * dtype.itemsize
        if (count <= 0 or min(facts.shape, default=1) < 0 or min(strides, default=0) < 0
                or facts.slot_first < 0 or facts.slot_first + span + dtype.itemsize > slot.nbytes
                or self.left < 0):
            raise ObservationError("a value's numbers reach outside its shared memory slot")
        return np.ndarray(facts.shape, dtype, buffer=self.segment,
                          offset=slot.offset + facts.slot_first, strides=strides)


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
    strides = tuple(s * dtype.itemsize for s in facts.stride)
    if any(s < 0 for s in strides):
        return None
    span = sum((n - 1) * s for n, s in zip(facts.shape, strides, strict=True) if n > 0)
    if first < 0 or first + span + dtype.itemsize > slot.nbytes:
        return None
    return np.ndarray(facts.shape, dtype, buffer=segment, offset=slot.offset + first,
                      strides=strides)
