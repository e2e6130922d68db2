"""Grading integrity: learner code that forges what the grader observes, re-points its inputs or
tries to learn hidden cases.

Each tampering route is written as a determined learner would: a *copying* ``share_from_numpy``
(which fails ``shares_memory`` honestly) plus a trick that would make the copy look shared if
the trick worked. Every route must end with no points on ``shares_memory`` or with the run
stopped as ``tampering``. They run through the real pipeline and the strict sandbox, over the
shipped course.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from common.protocol import Verdict
from common.spec import ExerciseLibrary
from tests.conftest import ROOT
from tests.sandbox.conftest import COURSE, GOOD, SLUG, grade
from worker.cases import build_inputs
from worker.pipeline import Pipeline
from worker.report import render_text
from worker.runner import Job, RunOutcome
from worker.sandbox import SandboxRunner

COPY = "torch.tensor(arr)"  # a copy: shares_memory fails unless a trick forges it


def _src(body: str) -> str:
    return textwrap.dedent(body).lstrip()


@dataclass(frozen=True)
class Route:
    """One way of reaching the harness, and the status the run must end with."""

    name: str
    source: str
    tampering: bool  # True: the tripwire must stop the run; False: the trick must just fail


ROUTES = [
    Route("frame-walk-at-import", _src(f"""
        import sys, torch
        frame = sys._getframe()
        while frame is not None:
            if "invoke" in frame.f_globals:
                real = frame.f_globals["invoke"]
            frame = frame.f_back
        def share_from_numpy(arr):
            return {COPY}
        """), True),
    Route("encoder-class-through-subclasses", _src(f"""
        import torch
        FORGED = {{}}
        for cls in object.__subclasses__():
            if cls.__name__ == "Encoder" and hasattr(cls, "_tensor"):
                real = cls._tensor
                def forged(self, t, type_name, with_data, real=real):
                    facts = real(self, t, type_name, with_data)
                    if "mem" in FORGED:
                        facts["mem"] = FORGED["mem"]
                    return facts
                cls._tensor = forged
        def share_from_numpy(arr):
            low = arr.__array_interface__["data"][0]
            FORGED["mem"] = (low, low + arr.nbytes)
            return {COPY}
        """), True),
    Route("globals-of-a-wrapped-library-function", _src(f"""
        import torch
        space = torch.set_num_threads.__globals__
        for value in list(space.values()):
            inner = getattr(value, "__globals__", None)
            if inner is not None and "observe" in inner:
                real = inner["observe"]
                def forged(raw, case, inputs, before, rng, encoder, real=real):
                    header = real(raw, case, inputs, before, rng, encoder)
                    header["result"]["mem"] = header["inputs_before"]["arr"]["mem"]
                    return header
                inner["observe"] = forged
        def share_from_numpy(arr):
            return {COPY}
        """), False),
    Route("replace-json-dumps-and-numpy-savez", _src(f"""
        import json, numpy, torch
        real_dumps = json.dumps
        def dumps(value, *args, **kwargs):
            text = real_dumps(value, *args, **kwargs)
            return text.replace('"shares_memory"', '"shares_memory"')
        json.dumps = dumps
        numpy.savez = lambda *a, **k: None
        def share_from_numpy(arr):
            return {COPY}
        """), False),
    Route("replace-builtins-sorted", _src(f"""
        import builtins, torch
        real = builtins.sorted
        builtins.sorted = lambda items, **kw: real(items, **kw)
        def share_from_numpy(arr):
            return {COPY}
        """), True),
    Route("setprofile-hook", _src(f"""
        import sys, torch
        def spy(frame, event, arg):
            pass
        sys.setprofile(spy)
        def share_from_numpy(arr):
            return {COPY}
        """), True),
    Route("traceback-frame-chain", _src(f"""
        import torch
        def share_from_numpy(arr):
            try:
                raise RuntimeError
            except RuntimeError as exc:
                frame = exc.__traceback__.tb_frame
                while frame is not None:
                    frame = frame.f_back
            return {COPY}
        """), True),
    Route("thread-after-return-reads-frames", _src(f"""
        import sys, threading, time, torch
        def later():
            time.sleep(0.01)
            sys._current_frames()
        def share_from_numpy(arr):
            threading.Thread(target=later).start()
            time.sleep(0.05)
            return {COPY}
        """), True),
    Route("gc-finds-the-writer", _src(f"""
        import gc, torch
        def share_from_numpy(arr):
            writers = [o for o in gc.get_objects() if getattr(o, "__name__", "") == "write_frame"]
            return {COPY}
        """), True),
    Route("inspect-currentframe", _src(f"""
        import inspect, torch
        def share_from_numpy(arr):
            frame = inspect.currentframe().f_back
            return {COPY}
        """), True),
    Route("generator-frame", _src(f"""
        import torch
        def share_from_numpy(arr):
            def gen():
                yield 1
            g = gen()
            frame = g.gi_frame
            return {COPY}
        """), True),
    Route("ctypes-reads-memory", _src(f"""
        import ctypes, torch
        def share_from_numpy(arr):
            ctypes.string_at(id(arr), 16)
            return {COPY}
        """), True),
    Route("proc-self-mem", _src(f"""
        import torch
        def share_from_numpy(arr):
            with open("/proc/self/mem", "rb") as handle:
                handle.read(1)
            return {COPY}
        """), True),
    Route("own-audit-hook", _src(f"""
        import sys, torch
        sys.addaudithook(lambda event, args: None)
        def share_from_numpy(arr):
            return {COPY}
        """), True),
    Route("class-of-result-replaced", _src(f"""
        import torch
        class Liar(torch.Tensor):
            pass
        def share_from_numpy(arr):
            result = {COPY}
            result.__class__ = Liar
            return result
        """), True),
    Route("code-object-swapped", _src(f"""
        import torch
        def share_from_numpy(arr):
            def a(): return 1
            def b(): return 2
            a.__code__ = b.__code__
            return {COPY}
        """), True),
    Route("compiled-under-a-library-name", _src(f"""
        import torch
        SPY = "import sys\\ndef spy():\\n    return sys._getframe(2)\\n"
        space = {{}}
        exec(compile(SPY, torch.__file__, "exec"), space)
        def share_from_numpy(arr):
            space["spy"]()
            return {COPY}
        """), True),
    Route("finaliser-on-the-harness-thread", _src(f"""
        import torch
        class Haunt:
            def __del__(self):
                import sys
                sys.modules.get("__main__")
        def share_from_numpy(arr):
            return [{COPY}, Haunt()]
        """), True),
    Route("signal-handler-receives-frames", _src(f"""
        import signal, torch
        def handler(signum, frame):
            while frame is not None:
                frame = frame.f_back
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        def share_from_numpy(arr):
            return {COPY}
        """), False),
    Route("sys-modules-lookup", _src(f"""
        import sys, torch
        found = [m for name, m in list(sys.modules.items()) if name.startswith("worker")]
        main = vars(sys.modules["__main__"])
        assert not found and "serve" not in main and "run_job" not in main
        def share_from_numpy(arr):
            return {COPY}
        """), False),
    Route("hand-written-channel-then-exit", _src("""
        import json, os, struct, torch
        def frame(header):
            text = json.dumps(header).encode()
            body = struct.pack(">I", len(text)) + text
            return struct.pack(">Q", len(body) + 32) + body + bytes(32)
        def share_from_numpy(arr):
            for fd in range(3, 12):
                try:
                    os.write(fd, frame({"type": "done"}))
                except OSError:
                    pass
            os._exit(0)
        """), False),
    Route("interrupt-the-harness", _src(f"""
        import _thread, torch
        def share_from_numpy(arr):
            _thread.interrupt_main()
            return {COPY}
        """), False),
    Route("out-of-bounds-storage-poke", _src(f"""
        import torch
        def share_from_numpy(arr):
            t = torch.from_numpy(arr)
            t.set_(t.untyped_storage(), 0, (10**7,))
            return {COPY}
        """), False),
]


@pytest.fixture(scope="module")
def course(sandbox: SandboxRunner) -> Pipeline:
    """The shipped course, graded through the session's sandbox."""
    return Pipeline(ExerciseLibrary(ROOT), sandbox)


def _forged_nothing(verdict: Verdict, check: str) -> None:
    report = verdict.model_dump_json(indent=1)
    assert not verdict.full_marks, report
    shared = [c for c in verdict.checks if c.name == check]
    assert shared and not any(c.passed for c in shared), report


@pytest.mark.slow
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_tampering_route_earns_nothing(route: Route, course: Pipeline) -> None:
    verdict = course.grade("share-from-numpy", route.source)
    _forged_nothing(verdict, "shares_memory")
    report = verdict.model_dump_json(indent=1)
    if route.tampering:
        assert verdict.status == "tampering", report
        assert verdict.score == 0 and verdict.tampering, report
        assert all(c.status == "tampering" for c in verdict.cases), report
        assert "tampering" in render_text(verdict)
    else:
        assert verdict.status != "passed", report


def test_at_least_fifteen_distinct_routes() -> None:
    assert len({r.name for r in ROUTES}) == len(ROUTES) >= 15


@pytest.mark.slow
def test_ordinary_learner_code_is_no_false_alarm(course: Pipeline) -> None:
    """Helper functions, classes, comprehensions, an autograd.Function and gradcheck on it,
    nn.Linear, printing, logging, dataclasses, namedtuples, a traceback formatted in an except
    block, torch.no_grad. (Not torch.optim: its first optimizer imports torch._dynamo, about
    3.5 s in a fresh child, too close to the exercise's 5 s limit on a busy machine.)"""
    source = _src("""
        import collections, dataclasses, logging, traceback
        import numpy as np
        import torch

        Pair = collections.namedtuple("Pair", "a b")

        @dataclasses.dataclass
        class Box:
            value: int

        class Identity(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.view_as(x)

            @staticmethod
            def backward(ctx, grad):
                return grad

        def helper(arr):
            return torch.from_numpy(arr)

        def share_from_numpy(arr):
            logging.getLogger("learner").info("called with %s", arr.shape)
            print("shape", [n for n in arr.shape], Box(1), Pair(1, 2))
            try:
                raise ValueError("handled")
            except ValueError:
                traceback.format_exc()
            with torch.no_grad():
                torch.nn.Linear(2, 2)(torch.ones(1, 2))
            Identity.apply(torch.ones(2, requires_grad=True)).sum().backward()
            x = torch.ones(2, dtype=torch.float64, requires_grad=True)
            assert torch.autograd.gradcheck(Identity.apply, (x,))
            return helper(arr)
        """)
    verdict = course.grade("share-from-numpy", source)
    assert verdict.full_marks, verdict.model_dump_json(indent=1)


# -- re-pointing inputs with public API -----------------------------------------------------


REPOINTING = [
    ("detach-share", "shares_memory", _src("""
        def detach_share(x):
            copy = x.detach().clone()
            x.data = copy
            return copy
        """)),
    ("flat-view", "is_view_of", _src("""
        import torch
        def flat_view(t):
            copy = t.detach().contiguous().clone()
            with torch.no_grad():
                t.set_(copy.untyped_storage(), 0, copy.shape, copy.stride())
            return t.view(-1)
        """)),
    ("tensor-to-numpy", "shares_memory", _src("""
        import torch
        def tensor_to_numpy(t):
            copy = torch.from_numpy(t.detach().numpy().copy())
            with torch.no_grad():
                t.set_(copy.untyped_storage(), 0, copy.shape, copy.stride())
            return copy.numpy()
        """)),
]


@pytest.mark.slow
@pytest.mark.parametrize(("slug", "check", "source"), REPOINTING, ids=[r[0] for r in REPOINTING])
def test_repointed_inputs_lose_the_memory_check(slug: str, check: str, source: str,
                                               course: Pipeline) -> None:
    verdict = course.grade(slug, source)
    _forged_nothing(verdict, check)
    visible = [c for c in verdict.checks if c.name == check and c.visible]
    assert visible and all("replaced the memory of its input" in c.message for c in visible), (
        verdict.model_dump_json(indent=1))


# -- hidden cases stay hidden --------------------------------------------------------------


@pytest.fixture(scope="module")
def hidden_values() -> Iterator[list[str]]:
    """How the test course's hidden inputs and reference values print."""
    library = ExerciseLibrary(COURSE)
    exercise = library.load(SLUG)
    texts = []
    for case in exercise.cases:
        if case.visible:
            continue
        x = build_inputs(case, "cpu")["x"]
        for number in [*x.tolist(), *(x * 2).tolist()]:
            texts.append(f"{number:.4f}"[:6])
            texts.append(repr(number)[:8])
    yield texts


def _outputs(verdict: Verdict) -> str:
    hidden = [c.model_dump_json() for c in verdict.cases if not c.visible]
    hidden += [c.model_dump_json() for c in verdict.checks if not c.visible]
    return "\n".join(hidden)


@pytest.mark.slow
@pytest.mark.parametrize("source", [
    "def double_it(x):\n    raise ValueError(repr(x.tolist()))\n",
    "def double_it(x):\n    return x * 2 + 1e-3 if x.numel() > 3 else x * 2\n",
    "import torch\ndef double_it(x):\n    print(x.tolist())\n    return torch.zeros_like(x)\n",
], ids=["raise-repr", "wrong-only-on-hidden", "print-and-wrong"])
def test_hidden_inputs_and_reference_values_never_appear(
        source: str, pipeline: Pipeline, hidden_values: list[str]) -> None:
    verdict = grade(pipeline, source)
    assert not verdict.full_marks
    hidden_text = _outputs(verdict)
    for text in hidden_values:
        assert text not in hidden_text, (text, hidden_text)
    failed = [c for c in verdict.checks if not c.visible and not c.passed]
    # A failed hidden check says only that; one whose case raised was not run (the case says
    # why, by the exception's type).
    assert failed and all("hidden" in c.message or (not c.run and c.message == "")
                          for c in failed)
    raised = [c for c in verdict.cases if not c.visible and c.status == "raised"]
    for case in raised:
        assert case.message.startswith("your function raised ValueError (")


@pytest.mark.slow
def test_a_load_error_in_the_hidden_run_tells_only_its_type(pipeline: Pipeline) -> None:
    # The code fails to load in both runs, with what it read there in the message: the
    # visible run's report may show it, the hidden cases' reports only its type.
    source = _src("""
        import os
        raise LookupError("hidden-secret: " + repr(sorted(os.listdir("/job"))))
        def double_it(x):
            return x * 2
        """)
    verdict = grade(pipeline, source)
    assert not verdict.full_marks
    hidden = [c for c in verdict.cases if not c.visible]
    assert hidden and all("hidden-secret" not in c.message for c in hidden)
    # Told once, as the submission's problem, from the visible cases' run.
    assert verdict.problem is not None and "LookupError" in verdict.problem.message
    assert all("hidden-secret" not in c.message for c in verdict.checks if not c.visible)


@pytest.mark.slow
def test_a_load_error_only_in_the_hidden_run_is_told_by_its_type(sandbox: SandboxRunner) -> None:
    # Code that loads for the visible cases and fails where the hidden ones are (it could tell
    # them apart by what it reads): played by a runner that hands the hidden cases' job a
    # source that raises with a secret, through the real sandbox.
    failing = _src("""
        raise LookupError("hidden-secret: seeds 1234")
        """)

    class HiddenRunFails:
        def run(self, job: Job) -> RunOutcome:
            if not all(c.visible for c in job.cases):
                job = dataclasses.replace(job, source=failing)
            return sandbox.run(job)

    verdict = Pipeline(ExerciseLibrary(COURSE), HiddenRunFails()).grade(SLUG, GOOD)
    assert not verdict.full_marks
    assert "hidden-secret" not in verdict.model_dump_json()
    assert verdict.problem is not None
    assert "LookupError" in verdict.problem.message
    assert verdict.problem.traceback == "" and verdict.problem.line is None
