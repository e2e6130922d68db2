"""One sandboxed run per submission: visible and hidden cases share a child, and what the
hidden cases print still never reaches the learner.

The visible cases' output is sealed (memfd seals) before the first hidden case; the runner
checks the seal itself. The attacks below keep a way to write into the visible output across
the boundary, or break the switch, and must fail.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from common.spec import ExerciseLibrary
from tests.sandbox.conftest import COURSE, GOOD, SLUG, grade
from worker.cases import build_inputs
from worker.harness.frames import encode_body, seal
from worker.observation import ObservationError
from worker.pipeline import Pipeline
from worker.runner import Job, Limits, OutcomeBuilder, RunOutcome
from worker.sandbox import SandboxRunner


def _src(body: str) -> str:
    return textwrap.dedent(body).lstrip()


class _Frames:
    """Seals frames as the harness does, under a builder's key."""

    def __init__(self, key: bytes) -> None:
        self.key, self.seq = key, 0

    def __call__(self, header: dict[str, object]) -> bytes:
        self.seq += 1
        return seal(self.key, self.seq - 1, encode_body(header, []))


def _split_builder(seal_ok: bool = True) -> tuple[OutcomeBuilder, _Frames]:
    builder = OutcomeBuilder(Limits(time_s=1.0), ("v", "h"), hidden=frozenset({"h"}),
                             seal_check=lambda: seal_ok)
    frames = _Frames(builder.key)
    builder.feed(frames({"type": "ready"}) + frames({"type": "loaded"}))
    return builder, frames


def _observation(case: str) -> dict[str, object]:
    return {"type": "case", "observation": {"case": case, "status": "returned",
                                            "inputs_after": {}}}


def test_the_hidden_part_begins_once_after_every_visible_case() -> None:
    builder, frames = _split_builder()
    with pytest.raises(ObservationError, match="before the visible ones ended"):
        builder.feed(frames({"type": "hidden"}))
    builder, frames = _split_builder()
    with pytest.raises(ObservationError, match="wrong part"):
        builder.feed(frames({"type": "start", "case": "h"}))
    builder, frames = _split_builder()
    builder.feed(frames({"type": "start", "case": "v"}) + frames(_observation("v"))
                 + frames({"type": "hidden"}))
    assert builder.outcome.hidden_reached
    with pytest.raises(ObservationError, match="unexpected 'hidden'"):
        builder.feed(frames({"type": "hidden"}))


def test_an_unsealed_visible_output_stops_the_run() -> None:
    builder, frames = _split_builder(seal_ok=False)
    builder.feed(frames({"type": "start", "case": "v"}) + frames(_observation("v")))
    with pytest.raises(ObservationError, match="not closed"):
        builder.feed(frames({"type": "hidden"}))


def test_each_part_has_its_own_time_limit_and_one_final_deadline() -> None:
    builder, frames = _split_builder()
    assert builder.final_deadline - builder.startup_deadline == pytest.approx(2.0)
    builder.feed(frames({"type": "start", "case": "v"}) + frames(_observation("v"))
                 + frames({"type": "hidden"}))
    assert builder.hidden_at is not None
    assert builder.time_left() == pytest.approx(1.0, abs=0.1)


# -- through the sandbox ---------------------------------------------------------------------


class CountingRunner:
    """The session's sandbox, counting runs."""

    def __init__(self, inner: SandboxRunner) -> None:
        self.inner, self.runs = inner, 0

    @property
    def separates_hidden_output(self) -> bool:
        return self.inner.separates_hidden_output

    def run(self, job: Job) -> RunOutcome:
        self.runs += 1
        return self.inner.run(job)


@pytest.fixture(scope="module")
def hidden_texts() -> Iterator[list[str]]:
    """How the test course's hidden input prints (``x.tolist()``)."""
    exercise = ExerciseLibrary(COURSE).load(SLUG)
    texts = []
    for case in exercise.cases:
        if not case.visible:
            texts += [repr(v)[:8] for v in build_inputs(case, "cpu")["x"].tolist()]
    yield texts


def test_a_submission_is_one_run_and_hidden_prints_stay_hidden(
        sandbox: SandboxRunner, hidden_texts: list[str]) -> None:
    counting = CountingRunner(sandbox)
    source = "import torch\ndef double_it(x):\n    print('saw', x.tolist())\n    return x * 2\n"
    verdict = Pipeline(ExerciseLibrary(COURSE), counting).grade(SLUG, source)
    assert counting.runs == 1
    assert verdict.full_marks, verdict
    assert verdict.stdout.count("saw") == 1  # the visible case's print only
    assert not any(text in verdict.stdout for text in hidden_texts), verdict.stdout


@pytest.mark.parametrize("source", [
    # A duplicate of stdout taken in a visible case, written to in the hidden one.
    _src("""
        import os
        SAVED = []
        def double_it(x):
            if not SAVED:
                SAVED.append(os.dup(1))
            else:
                try:
                    os.write(SAVED[0], repr(x.tolist()).encode())
                except OSError:
                    pass
            return x * 2
        """),
    # Rewinding the capture, and writing at its start.
    _src("""
        import os
        def double_it(x):
            print("first")
            os.lseek(1, 0, os.SEEK_SET)
            os.pwrite(1, repr(x.tolist()).encode(), 0)
            return x * 2
        """),
    # Reopening the capture through /proc (a new open file of the same memfd).
    _src("""
        import os
        SAVED = []
        def double_it(x):
            if not SAVED:
                try:
                    SAVED.append(os.open(os.readlink("/proc/self/fd/1"), os.O_WRONLY))
                except OSError:
                    SAVED.append(os.dup(1))
                print("visible")
            else:
                try:
                    os.write(SAVED[0], repr(x.tolist()).encode())
                except OSError:
                    pass
            return x * 2
        """),
], ids=["dup-before-the-boundary", "rewind-and-pwrite", "reopen-through-proc"])
def test_a_descriptor_kept_from_a_visible_case_cannot_leak_hidden_inputs(
        source: str, pipeline: Pipeline, hidden_texts: list[str]) -> None:
    verdict = grade(pipeline, source)
    assert verdict.full_marks, verdict  # the function itself is right
    assert not any(text in verdict.stdout for text in hidden_texts), verdict.stdout


@pytest.mark.parametrize("source", [
    # A writable mapping of the capture: the seal cannot be set while it exists.
    _src("""
        import mmap, os
        MAPS = []
        def double_it(x):
            if not MAPS:
                os.write(1, b" " * 4096)
                MAPS.append(mmap.mmap(1, 4096))
            else:
                text = repr(x.tolist()).encode()
                MAPS[0][:len(text)] = text
            return x * 2
        """),
    # A memfd of one's own where the harness keeps the visible capture, so that it seals that
    # one, keeping a duplicate of the real capture to write hidden inputs into.
    _src("""
        import os
        SAVED = []
        def double_it(x):
            if not SAVED:
                SAVED.append(os.dup(1))
                for fd in range(3, 64):
                    try:
                        target = os.readlink(f"/proc/self/fd/{fd}")
                    except OSError:
                        continue
                    if "memfd:output" in target and fd != SAVED[0]:
                        os.dup2(os.memfd_create("output", os.MFD_ALLOW_SEALING), fd)
            else:
                try:
                    os.write(SAVED[0], repr(x.tolist()).encode())
                except OSError:
                    pass
            return x * 2
        """),
], ids=["writable-mapping", "replaced-descriptors"])
def test_breaking_the_switch_to_the_hidden_capture_is_tampering(
        source: str, pipeline: Pipeline, hidden_texts: list[str]) -> None:
    verdict = grade(pipeline, source)
    assert verdict.status == "tampering" and verdict.score == 0, verdict
    assert not any(text in verdict.stdout for text in hidden_texts), verdict.stdout


@pytest.mark.slow
def test_visible_and_hidden_cases_each_get_the_time_limit(pipeline: Pipeline) -> None:
    # 1 s per part (the exercise's limit), as when they were two runs: 0.6 s in each passes.
    source = "import time\ndef double_it(x):\n    time.sleep(0.6)\n    return x * 2\n"
    assert grade(pipeline, source).full_marks


def test_good_code_still_passes(pipeline: Pipeline) -> None:
    verdict = grade(pipeline, GOOD)
    assert verdict.full_marks and verdict.status == "passed"


def test_a_crash_in_the_visible_cases_still_lets_the_hidden_ones_run(
        sandbox: SandboxRunner) -> None:
    # As when visible and hidden cases were two runs: the hidden ones get a run of their own.
    counting = CountingRunner(sandbox)
    source = _src("""
        import os
        def double_it(x):
            if x.numel() == 3:  # the visible case
                os._exit(0)
            return x * 2
        """)
    verdict = Pipeline(ExerciseLibrary(COURSE), counting).grade(SLUG, source)
    assert counting.runs == 2
    assert {c.name: c.status for c in verdict.cases} == {"small": "crashed",
                                                          "hidden-one": "returned"}
    assert [c.passed for c in verdict.checks if not c.visible] == [True]
