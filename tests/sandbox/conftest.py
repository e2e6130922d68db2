"""Fixtures for the sandbox tests: one real sandbox (zygote and all) for the whole session,
a pipeline over a tiny test course, and a health check run after every attack."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.protocol import Verdict
from common.spec import ExerciseLibrary
from worker.pipeline import Pipeline
from worker.sandbox import SandboxConfig, SandboxRunner, SandboxUnavailable

COURSE = Path(__file__).resolve().parent / "course"
SLUG = "double-it"
REFERENCE_MARKER = "REFERENCE-SECRET-7f3a"
SECRET = "worker-secret-9c1e4b"  # set in the worker's environment, must never reach learners
GOOD = "import torch\n\ndef double_it(x):\n    return x * 2\n"
TEST_MEMORY = 768 * 2**20  # keeps memory bombs quick

os.environ["GRADER_ATTACK_SECRET"] = SECRET


def require_sandbox_machine() -> None:
    """Skip where the sandbox cannot exist (not Linux, not root); CI is both."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the sandbox needs Linux")
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs the worker to run as root (per-slot uid, staged root)")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxRunner]:
    """A strict sandbox (every layer required) for the whole session."""
    require_sandbox_machine()
    library = ExerciseLibrary(COURSE)
    runner = SandboxRunner(SandboxConfig(
        hidden=(library.reference_dir, library.exercises_dir),
        max_memory_bytes=TEST_MEMORY,
    ))
    try:
        runner.start()
    except SandboxUnavailable as exc:
        pytest.fail(f"the sandbox refused to start on this machine: {exc}")
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def pipeline(sandbox: SandboxRunner) -> Pipeline:
    """The real pipeline over the test course, grading through the sandbox."""
    return Pipeline(ExerciseLibrary(COURSE), sandbox)


def grade(pipeline: Pipeline, source: str) -> Verdict:
    """Grade ``source`` for the test exercise."""
    return pipeline.grade(SLUG, source)


def _status(pid: str) -> dict[str, str] | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return {k: v.strip() for k, v in (line.split(":", 1) for line in handle if ":" in line)}
    except OSError:
        return None


def slot_processes(uid: int, zygote_pid: int) -> list[tuple[int, str]]:
    """The zygote's descendants that run as the slot's uid (its warm children, and leftovers).

    Only this zygote's own tree counts, so that another grader running on the same machine (and
    perhaps using the same slot uids) cannot make a healthy sandbox look unhealthy.
    """
    table: dict[int, tuple[int, int, str]] = {}  # pid -> (parent, uid, name)
    for entry in os.listdir("/proc"):
        fields = _status(entry) if entry.isdigit() else None
        try:
            if fields is not None:
                table[int(entry)] = (int(fields["PPid"]), int(fields["Uid"].split()[0]),
                                     fields["Name"])
        except (KeyError, ValueError):
            continue

    def descends(pid: int) -> bool:
        seen = set()
        while pid in table and pid not in seen:
            seen.add(pid)
            pid = table[pid][0]
            if pid == zygote_pid:
                return True
        return False

    return [(pid, name) for pid, (_, owner, name) in table.items()
            if owner == uid and descends(pid)]


def assert_healthy(sandbox: SandboxRunner, pipeline: Pipeline, zygote_pid: int) -> None:
    """The worker survived: same zygote, a correct submission still gets full marks, and
    nothing of the attack's is left running (only the warm children: PID 1 and the learner
    process of each)."""
    assert sandbox.healthy(), "the zygote died"
    assert sandbox.zygote_pid == zygote_pid, "the zygote was replaced"
    verdict = grade(pipeline, GOOD)
    assert verdict.full_marks, verdict.model_dump_json(indent=1)
    assert sandbox.uid is not None
    expected = 2 * sandbox.config.warm
    deadline = time.monotonic() + 5
    while True:
        processes = slot_processes(sandbox.uid, zygote_pid)
        if len(processes) <= expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(processes) <= expected, f"left running as the slot's uid: {processes}"
