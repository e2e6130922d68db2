"""Inputs in memory the runner owns: the child moves them in, the runner reads them back, and
what the runner reads beats what the learner's process reports."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from common.spec import CaseSpec
from tests.sandbox.conftest import GOOD, grade
from worker import shared_inputs
from worker.cases import build_inputs
from worker.invocation import call, invoke, observe
from worker.observation import Encoder, Observation, ObservationError, decode, rng_states
from worker.pipeline import Pipeline

CASE = CaseSpec.model_validate({"name": "c", "seed": 3, "args": {
    "x": {"gen": "tensor", "shape": [3, 4], "requires_grad": True},
    "t": {"gen": "tensor", "shape": [2, 3], "transpose": [0, 1]},
    "a": {"gen": "array", "shape": [3, 2], "transpose": [0, 1]},
    "b": {"gen": "tensor", "shape": [2], "dtype": "bfloat16"},
    "n": 3,
}})


def _laid_out() -> tuple[dict[str, dict[str, object]], tuple[shared_inputs.Slot, ...],
                        tuple[tuple[int, int], ...], int]:
    """As a run does it: the runner lays the case's inputs out in a fresh segment, the child
    makes them over it. A descriptor of the segment stays here."""
    built = {"c": build_inputs(CASE, "cpu")}
    slots = shared_inputs.plan(built)
    fd = os.memfd_create("inputs")
    os.pwrite(fd, shared_inputs.image(built, slots), 0)
    ours = os.dup(fd)
    inputs, regions = shared_inputs.build([CASE], "cpu", slots, fd)
    return inputs, slots, regions, ours


@pytest.fixture
def segment() -> Iterator[tuple[dict[str, dict[str, object]], tuple[shared_inputs.Slot, ...], int]]:
    """The case's inputs made over a segment; a descriptor of it stays here."""
    inputs, slots, _, ours = _laid_out()
    yield inputs, slots, ours
    os.close(ours)


def test_inputs_made_over_the_segment_are_the_generated_ones(segment: tuple) -> None:
    inputs, slots, _ = segment
    fresh = build_inputs(CASE, "cpu")
    assert [s.name for s in slots] == ["x", "t", "a"]  # bfloat16 and the int: built as before
    assert list(inputs["c"]) == list(CASE.args)  # in the spec's order
    for name in ("x", "t"):
        moved, built = inputs["c"][name], fresh[name]
        assert torch.equal(moved.detach(), built.detach())
        assert moved.stride() == built.stride() and moved.requires_grad == built.requires_grad
        assert moved.dtype == built.dtype and moved.storage_offset() == built.storage_offset()
        assert moved.is_leaf and moved.grad is None
    assert inputs["c"]["b"].dtype == torch.bfloat16 and inputs["c"]["n"] == 3
    assert np.array_equal(inputs["c"]["a"], fresh["a"])
    assert inputs["c"]["a"].strides == fresh["a"].strides


def _observe(inputs: dict[str, object], fn: object) -> Observation:
    header, encoder = invoke(fn, "c", inputs, (), 1 << 20)  # type: ignore[arg-type]
    return decode(header, dict(enumerate(encoder.arrays)))


def test_the_runner_reads_what_the_call_did_whatever_is_reported(segment: tuple) -> None:
    inputs, slots, fd = segment

    def scale(x: torch.Tensor, t: torch.Tensor, a: np.ndarray, b: object, n: int) -> None:
        with torch.no_grad():
            x.mul_(2)
        a *= 3

    observation = _observe(inputs["c"], scale)
    truth = {n: observation.inputs_after[n].data.copy() for n in ("x", "a")}  # type: ignore[union-attr]
    # A forged report: the inputs "unchanged".
    for name in ("x", "a"):
        value = observation.inputs_after[name]
        observation.inputs_after[name] = dataclasses.replace(
            value, data=np.zeros_like(value.data))
    shared_inputs.read_back(os.pread(fd, shared_inputs.size(slots), 0), slots, {"c": observation})
    for name in ("x", "a"):
        assert np.array_equal(observation.inputs_after[name].data, truth[name])  # type: ignore[arg-type]


def test_a_swapped_input_keeps_its_report(segment: tuple) -> None:
    inputs, slots, fd = segment

    def swap(x: torch.Tensor, t: torch.Tensor, a: np.ndarray, b: object, n: int) -> None:
        x.data = torch.full_like(x, 7.0)

    observation = _observe(inputs["c"], swap)
    shared_inputs.read_back(os.pread(fd, shared_inputs.size(slots), 0), slots, {"c": observation})
    # What x points at now, as reported; its original memory is unchanged in the segment.
    assert observation.inputs_after["x"].data.tolist() == [[7.0] * 4] * 3  # type: ignore[union-attr]


@pytest.mark.parametrize("forged", [
    {"storage_offset": 10**6},  # past the slot
    {"stride": (1,)},  # not a layout for two dimensions (it once raised inside the grader)
    {"stride": (-1, 3)},
])
def test_a_view_reaching_past_its_slot_is_not_read(segment: tuple, forged: dict) -> None:
    inputs, slots, fd = segment
    observation = _observe(inputs["c"], lambda x, t, a, b, n: None)
    facts = observation.inputs_after["t"].facts
    reported = observation.inputs_after["t"].data
    observation.inputs_after["t"] = dataclasses.replace(
        observation.inputs_after["t"], facts=facts.model_copy(update=forged))
    shared_inputs.read_back(os.pread(fd, shared_inputs.size(slots), 0), slots, {"c": observation})
    assert observation.inputs_after["t"].data is reported


def test_the_child_holds_no_descriptor_of_the_segment(pipeline: Pipeline) -> None:
    # Mapped, then closed: learner code finds no inputs memfd among its descriptors (through
    # which it could read other cases' inputs).
    source = ("import os, torch\ndef double_it(x):\n"
              "    found = []\n"
              "    for n in os.listdir('/proc/self/fd'):\n"
              "        try:\n"
              "            found.append(os.readlink(f'/proc/self/fd/{n}'))\n"
              "        except OSError:\n"
              "            pass  # the descriptor listdir itself used\n"
              "    assert any('output' in f for f in found), found  # the listing works\n"
              "    return x * 2 if not any('inputs' in f for f in found) else x\n")
    assert grade(pipeline, source).full_marks
    assert grade(pipeline, GOOD).full_marks


def _observe_in_slots(inputs: dict[str, object], regions: tuple[tuple[int, int], ...],
                      fn: object) -> tuple[dict[str, object], list[np.ndarray]]:
    """As the harness observes a call: numbers found in the slots are referred to."""
    encoder = Encoder(1 << 20, regions)
    before = {n: encoder.encode(v, with_data=False) for n, v in inputs.items()}
    rng = rng_states()
    raw = call(fn, inputs, (), None)  # type: ignore[arg-type]
    return observe(raw, "c", inputs, before, rng, encoder), encoder.arrays


@pytest.fixture
def mapped() -> Iterator[tuple[dict[str, object], tuple[shared_inputs.Slot, ...],
                               tuple[tuple[int, int], ...], int]]:
    """Like ``segment``, with the slots' addresses as the harness's encoder gets them."""
    inputs, slots, regions, ours = _laid_out()
    yield inputs["c"], slots, regions, ours
    os.close(ours)


def test_numbers_in_a_slot_are_not_sent_but_read_by_the_runner(mapped: tuple) -> None:
    inputs, slots, regions, fd = mapped

    def shares(x: torch.Tensor, t: torch.Tensor, a: np.ndarray, b: object, n: int) -> object:
        a *= 3
        return torch.from_numpy(a)[1:]  # a view of the array's memory

    truth = inputs["a"] * 3
    header, arrays = _observe_in_slots(inputs, regions, shares)
    assert header["result"]["slot"] == 2 and "array" not in header["result"]
    assert all(header["inputs_after"][n].get("slot") is not None for n in ("x", "t", "a"))
    # Only the bfloat16 input's numbers (2) and the int's travel.
    assert sorted(a.size for a in arrays) == [1, 1, 2]
    observation = decode(header, dict(enumerate(arrays)), len(slots))
    assert observation.result is not None and observation.result.data is None
    shared_inputs.fill(os.pread(fd, shared_inputs.size(slots), 0), slots, {"c": observation},
                       1 << 20)
    assert np.array_equal(observation.result.data, truth[1:])  # type: ignore[union-attr]
    assert np.array_equal(observation.inputs_after["a"].data, truth)  # type: ignore[arg-type]
    assert observation.inputs_after["x"].data.shape == (3, 4)  # type: ignore[union-attr]


def test_numbers_that_are_not_the_bytes_are_sent() -> None:
    # A lazily conjugated view shares memory but its numbers are not its bytes.
    z = torch.complex(torch.ones(3), torch.arange(3.0))
    encoder = Encoder(1 << 20, ((z.data_ptr(), z.untyped_storage().nbytes()),))
    assert "slot" in encoder.encode(z)
    conjugate = encoder.encode(z.conj())
    assert "slot" not in conjugate and conjugate["array"] is not None
    assert "slot" not in encoder.encode(torch.ones(3))  # elsewhere in memory


@pytest.mark.parametrize("forged", [
    {"slot": 7},  # a slot the run does not have
    {"slot": 0, "array": 0},  # numbers both sent and referred to
    {"slot": 0, "slot_first": None},
])
def test_a_reference_to_no_slot_of_the_run_is_malformed(mapped: tuple, forged: dict) -> None:
    inputs, slots, regions, _ = mapped
    header, arrays = _observe_in_slots(inputs, regions, lambda x, t, a, b, n: x)
    header["result"].update(forged)
    with pytest.raises(ObservationError):
        decode(header, dict(enumerate(arrays)), len(slots))


@pytest.mark.parametrize("forged", [
    {"slot_first": 10**6},  # past the slot
    {"slot_first": -8},
    {"shape": (3, 10**6), "stride": (4, 1)},  # reaches past the slot
    {"shape": (10**9,), "stride": (0,)},  # within the slot, over the observation budget
    {"dtype": "torch.bfloat16"},  # not readable as bytes
    {"dtype": "object"},
])
def test_a_reference_out_of_its_slot_is_refused(mapped: tuple, forged: dict) -> None:
    inputs, slots, regions, fd = mapped
    header, arrays = _observe_in_slots(inputs, regions, lambda x, t, a, b, n: x)
    header["result"].update(forged)
    observation = decode(header, dict(enumerate(arrays)), len(slots))
    with pytest.raises(ObservationError):
        shared_inputs.fill(os.pread(fd, shared_inputs.size(slots), 0), slots,
                           {"c": observation}, 1 << 20)


def test_a_slotted_tensor_keeps_requires_grad_and_its_pre_existing_grad() -> None:
    case = CaseSpec.model_validate({"name": "g", "seed": 5, "args": {
        "w": {"gen": "tensor", "shape": [2, 2], "requires_grad": True, "grad": 1.5}}})
    built = {"g": build_inputs(case, "cpu")}
    slots = shared_inputs.plan(built)
    fd = os.memfd_create("inputs")
    os.pwrite(fd, shared_inputs.image(built, slots), 0)
    inputs, _ = shared_inputs.build([case], "cpu", slots, fd)
    w = inputs["g"]["w"]
    assert torch.equal(w.detach(), built["g"]["w"].detach()) and w.requires_grad and w.is_leaf
    assert w.grad is not None and w.grad.tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert w.grad.data_ptr() != w.data_ptr()


@pytest.mark.parametrize("change", [{"offset": 10**6}, {"kind": "other"},
                                    {"dtype": "torch.bfloat16"}, {"shape": (64, 64)}])
def test_a_slot_the_child_cannot_hold_is_refused(change: dict) -> None:
    built = {"c": build_inputs(CASE, "cpu")}
    slots = shared_inputs.plan(built)
    fd = os.memfd_create("inputs")
    os.pwrite(fd, shared_inputs.image(built, slots), 0)
    wrong = (dataclasses.replace(slots[0], **change), *slots[1:])
    with pytest.raises((ValueError, RuntimeError)):
        shared_inputs.build([CASE], "cpu", wrong, fd)


def test_an_input_reaches_no_other_cases_memory() -> None:
    # The attack: a visible array's `.base` (or a tensor's storage) read whole, to find the
    # hidden cases' inputs laid out next to it in the segment.
    cases = [CaseSpec.model_validate({"name": "shown", "seed": 1, "args": {
                 "a": {"gen": "array", "shape": [2, 3]}, "t": {"gen": "tensor", "shape": [4]}}}),
             CaseSpec.model_validate({"name": "hidden", "seed": 2, "args": {
                 "a": {"gen": "array", "shape": [5], "dist": "full", "value": 1234.5}}})]
    built = {c.name: build_inputs(c, "cpu") for c in cases}
    slots = shared_inputs.plan(built)
    fd = os.memfd_create("inputs")
    os.pwrite(fd, shared_inputs.image(built, slots), 0)
    inputs, _ = shared_inputs.build(cases, "cpu", slots, fd)
    secret = np.float64(1234.5).tobytes()
    array, tensor = inputs["shown"]["a"], inputs["shown"]["t"]
    owner = array
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    reachable = bytes(memoryview(owner.base).cast("B"))
    assert len(reachable) == slots[0].nbytes and secret not in reachable
    assert getattr(owner.base, "obj", None) is None  # no way back to the whole segment
    storage = tensor.untyped_storage()
    assert storage.nbytes() == slots[1].nbytes
    assert secret not in bytes(torch.empty(0, dtype=torch.uint8).set_(storage).numpy())
