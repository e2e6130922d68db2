"""The result channel: sealed, bounded, one ``ready``, one deadline; and how a run that ends badly
after its last case is graded."""

from __future__ import annotations

import io
import os
import time
from dataclasses import replace

import numpy as np
import pytest

from common.spec import ExerciseLibrary
from tests.conftest import ROOT
from tests.sandbox.conftest import COURSE, GOOD, SLUG, grade
from worker.harness.frames import FrameError, FrameReader, encode_body, make_writer, new_key, seal
from worker.observation import ObservationError
from worker.pipeline import Pipeline
from worker.process_runner import PROCESS_RUNNER_NOTICE, ProcessRunner
from worker.runner import Job, Limits, OutcomeBuilder, RunOutcome
from worker.sandbox import SandboxRunner


class _Harness:
    """Seals frames as the harness does: the builder's key, frames numbered in order."""

    def __init__(self, key: bytes) -> None:
        self.key, self.seq = key, 0

    def frame(self, header: dict[str, object], arrays: list[np.ndarray] | None = None) -> bytes:
        self.seq += 1
        return seal(self.key, self.seq - 1, encode_body(header, arrays or []))


def test_the_writer_and_reader_agree_on_arrays() -> None:
    key = new_key()
    read_end, write_end = os.pipe()
    try:
        arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array(7, dtype=np.int64)]
        make_writer(key, write_end)({"type": "case"}, arrays)
        data = os.read(read_end, 1 << 16)
    finally:
        os.close(read_end)
        os.close(write_end)
    ((header, got),) = FrameReader(key, 1 << 20).feed(data)
    assert header == {"type": "case"}
    assert [a.tolist() for a in got] == [a.tolist() for a in arrays]


def test_a_frame_without_the_runs_key_is_refused() -> None:
    builder = OutcomeBuilder(Limits(), ("a",))
    forger = _Harness(new_key())
    with pytest.raises(FrameError, match="not authenticated"):
        builder.feed(forger.frame({"type": "ready"}))


def test_a_replayed_frame_is_refused() -> None:
    builder = OutcomeBuilder(Limits(), ("a",))
    harness = _Harness(builder.key)
    ready = harness.frame({"type": "ready"})
    builder.feed(ready)
    with pytest.raises(FrameError, match="not authenticated"):
        builder.feed(ready)


def test_ready_is_accepted_once_and_first() -> None:
    builder = OutcomeBuilder(Limits(), ("a",))
    harness = _Harness(builder.key)
    with pytest.raises(ObservationError, match="before 'ready'"):
        builder.feed(harness.frame({"type": "loaded"}))
    builder = OutcomeBuilder(Limits(), ("a",))
    harness = _Harness(builder.key)
    builder.feed(harness.frame({"type": "ready"}))
    with pytest.raises(ObservationError, match="'ready' came twice"):
        builder.feed(harness.frame({"type": "ready"}))


def test_the_deadline_is_fixed_when_the_run_begins() -> None:
    limits = Limits(time_s=0.4, startup_s=0.2)
    builder = OutcomeBuilder(limits, ("a",))
    harness = _Harness(builder.key)
    time.sleep(0.15)
    builder.feed(harness.frame({"type": "ready"}))
    # Ready late in the start-up allowance: the time limit still ends at start-up + limit.
    assert builder.time_left() <= 0.6 - 0.15 + 0.01


def test_an_oversized_frame_is_refused_from_its_length_alone() -> None:
    limits = Limits(observation_bytes=2**20)
    builder = OutcomeBuilder(limits, ("a",))
    declared = (8 * 2**30).to_bytes(8, "big")  # 8 GiB announced, nothing sent
    with pytest.raises(FrameError, match="exceeds"):
        builder.feed(declared)
    assert len(builder.reader.buffer) == 8  # nothing held beyond the length itself


def test_a_compressed_npz_frame_is_refused_without_inflating_it() -> None:
    builder = OutcomeBuilder(Limits(), ("a",))
    harness = _Harness(builder.key)
    builder.feed(harness.frame({"type": "ready"}))
    bomb = io.BytesIO()
    np.savez_compressed(bomb, a0=np.zeros(50 * 2**20, dtype=np.uint8))  # 50 MB, about 50 KB
    body = bomb.getvalue()
    with pytest.raises(FrameError):
        builder.feed(seal(builder.key, harness.seq, body))


def test_an_array_larger_than_its_frame_is_refused_before_allocation() -> None:
    builder = OutcomeBuilder(Limits(), ("a",))
    harness = _Harness(builder.key)
    builder.feed(harness.frame({"type": "ready"}))
    lying = {"type": "start", "case": "a", "arrays": [["<f8", [2**36]]]}  # 512 GiB declared
    with pytest.raises(FrameError, match="overrun"):
        builder.feed(seal(builder.key, harness.seq, encode_body(lying, [])))


def test_non_numeric_array_types_are_refused() -> None:
    builder = OutcomeBuilder(Limits(), ("a",))
    harness = _Harness(builder.key)
    builder.feed(harness.frame({"type": "ready"}))
    with pytest.raises(FrameError, match="may not carry"):
        builder.feed(seal(builder.key, harness.seq,
                          encode_body({"type": "start", "arrays": [["|O", [1]]]}, [])))


@pytest.mark.slow
def test_a_forged_ready_refresher_cannot_hold_the_worker(
        sandbox: SandboxRunner, pipeline: Pipeline) -> None:
    source = """
import os, struct, threading, time, json
def refresh():
    text = json.dumps({"type": "ready"}).encode()
    body = struct.pack(">I", len(text)) + text
    frame = struct.pack(">Q", len(body) + 32) + body + bytes(32)
    while True:
        for fd in range(3, 12):
            try:
                os.write(fd, frame)
            except OSError:
                pass
        time.sleep(0.2)
def double_it(x):
    threading.Thread(target=refresh, daemon=True).start()
    time.sleep(10**6)
"""
    started = time.monotonic()
    verdict = grade(pipeline, source)
    elapsed = time.monotonic() - started
    assert verdict.score == 0
    assert verdict.cases[0].status in ("crashed", "timeout"), verdict.model_dump_json(indent=1)
    # Two runs (visible, hidden), each ended by the 1 s limit or the first forged frame.
    assert elapsed < 2 * (1 + 3), elapsed


class _EndsBadlyAfterTheLastCase:
    """A runner that runs each job in the real sandbox, then reports the way a process that
    crashed after its last case (before "done") is reported: every observation there, status
    crashed."""

    def __init__(self, inner: SandboxRunner) -> None:
        self.inner = inner

    def run(self, job: Job) -> RunOutcome:
        outcome = self.inner.run(job)
        assert outcome.status == "completed"
        return replace(outcome, status="crashed",
                       message="the process was killed by signal SIGSEGV (segmentation fault)")


@pytest.mark.slow
def test_a_crash_after_the_last_case_fails_the_submission(sandbox: SandboxRunner) -> None:
    pipeline = Pipeline(ExerciseLibrary(COURSE), _EndsBadlyAfterTheLastCase(sandbox))
    verdict = pipeline.grade(SLUG, GOOD)
    assert verdict.status == "failed" and verdict.score == 0, verdict.model_dump_json(indent=1)
    assert all(c.status == "crashed" for c in verdict.cases)
    assert "SIGSEGV" in verdict.cases[0].message
    assert "does not end cleanly" in verdict.cases[0].message


@pytest.mark.slow
def test_the_process_runner_says_so_on_every_result() -> None:
    # And grades right: its run is over at "done", though it kills the process then (a race
    # once reported every such run as killed by SIGKILL on a busy machine).
    pipeline = Pipeline(ExerciseLibrary(ROOT), ProcessRunner())
    golden = ROOT / "exercises" / "share-from-numpy" / "golden" / "as_tensor.py"
    verdict = pipeline.grade("share-from-numpy", golden.read_text())
    assert verdict.full_marks, verdict.model_dump_json(indent=1)
    assert PROCESS_RUNNER_NOTICE in verdict.notices
