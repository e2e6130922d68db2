"""The code that runs next to the learner's: load the submission, run each case, send frames.

Two ways in: ``python -m worker.harness FD`` (the job as JSON on stdin; used by
:class:`~worker.runner.ProcessRunner`), and :func:`serve`, which the sandbox's pre-forked child
calls with the job on a pipe. Everything the harness needs is imported, and the functions it
relies on captured, before the learner's code is loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import types
from collections.abc import Callable
from typing import Any, NoReturn

import torch

from common.spec import CaseSpec
from worker.cases import build_inputs
from worker.harness.frames import write_frame
from worker.harness.gpu import GPU_UNAVAILABLE, GpuSetupError, prepare_device
from worker.invocation import error_facts, invoke

SUBMISSION_MODULE = "submission"

# Captured before learner code runs: a learner replacing them changes nothing here.
_getpid = os.getpid
_exit = os._exit
_flush_stdout = sys.stdout.flush
_flush_stderr = sys.stderr.flush

# Allocation failures that torch and NumPy report with their own exception types.
_OUT_OF_MEMORY = re.compile(
    r"can't allocate memory|not enough memory|out of memory|cannot allocate memory|"
    r"std::bad_alloc", re.IGNORECASE)


def load_submission(path: str) -> types.ModuleType:
    """Execute the learner's source as the module ``submission``."""
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    module = types.ModuleType(SUBMISSION_MODULE)
    module.__file__ = path
    sys.modules[SUBMISSION_MODULE] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def _only_in_harness_process(fn: Callable[..., Any], owner: int) -> Callable[..., Any]:
    """``fn``, except that a process the learner forked never returns into the harness (where it
    would send observations of its own)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            if _getpid() != owner:
                _exit(0)

    return call


def normalise_memory_error(error: dict[str, Any] | None) -> None:
    """Report running out of memory as ``MemoryError`` whatever library raised it (NumPy's
    ``_ArrayMemoryError``, torch's allocator ``RuntimeError``), so the learner is told
    ``memory_limit`` rather than a stray exception."""
    if not error or error.get("type") == "MemoryError":
        return
    kind = str(error.get("type", ""))
    if kind.endswith("MemoryError") or (
        kind in ("RuntimeError", "OutOfMemoryError") and _OUT_OF_MEMORY.search(
            str(error.get("message", "")))
    ):
        error["message"] = f"{kind}: {error.get('message', '')}"[:2000]
        error["type"] = "MemoryError"


def _flush() -> None:
    for flush in (_flush_stdout, _flush_stderr):
        # The learner may have closed or replaced the stream; their output is theirs to lose.
        with contextlib.suppress(BaseException):
            flush()


def run_job(job: dict[str, Any], fd: int) -> None:
    """Run every case of the job, streaming one frame per event to ``fd``."""
    owner = _getpid()
    source_path = job["source_path"]
    # Before "ready": starting CUDA for a cuda job takes a while, and is not the learner's time.
    try:
        prepare_device(job)
    except GpuSetupError as exc:
        write_frame(fd, {"type": "ready"})
        write_frame(fd, {"type": "load_error", "error": {
            "type": GPU_UNAVAILABLE, "traceback": "",
            "message": f"the grader could not give this run its GPU ({exc}); this is not "
                       "your code's fault, please submit again later"}})
        return
    write_frame(fd, {"type": "ready"})  # the time limit starts now, not at interpreter start
    try:
        module = load_submission(source_path)
    except BaseException as exc:
        if _getpid() != owner:
            _exit(0)
        facts = error_facts(exc, source_path)
        normalise_memory_error(facts)
        write_frame(fd, {"type": "load_error", "error": facts})
        return
    if _getpid() != owner:
        _exit(0)
    fn = module.__dict__.get(job["function"])
    if not callable(fn):
        what = "does not define" if fn is None else "defines something that is not a function,"
        error = {
            "type": "MissingFunction",
            "message": f"your code {what} `{job['function']}`",
            "traceback": "",
        }
        write_frame(fd, {"type": "load_error", "error": error})
        return
    write_frame(fd, {"type": "loaded"})
    guarded = _only_in_harness_process(fn, owner)
    for raw in job["cases"]:
        case = CaseSpec.model_validate(raw)
        write_frame(fd, {"type": "start", "case": case.name})
        inputs = build_inputs(case, job["device"])
        header, encoder = invoke(
            guarded,
            case.name,
            inputs,
            job["probes"].get(case.name, ()),
            int(job["max_observation_bytes"]),
            source_file=source_path,
        )
        normalise_memory_error(header.get("error"))
        write_frame(fd, {"type": "case", "observation": header}, encoder.arrays)
    # Output first: the runner may end the process as soon as it reads "done".
    _flush()
    write_frame(fd, {"type": "done"})


def serve(job_fd: int, result_fd: int, prepare: Callable[[dict[str, Any]], None]) -> NoReturn:
    """Read one job (JSON, to end of file) from ``job_fd``, let ``prepare`` set the process up for
    it (limits, the source file), run it, and exit without running the learner's atexit
    handlers or waiting for their threads."""
    try:
        chunks = []
        while chunk := os.read(job_fd, 1 << 20):
            chunks.append(chunk)
        os.close(job_fd)
        if not chunks:
            _exit(0)  # no job: the runner went away
        job = json.loads(b"".join(chunks))
        prepare(job)
        run_job(job, result_fd)
    finally:
        _flush()
        _exit(0)


def main() -> None:
    """Run the job read from stdin; exit without running the learner's atexit handlers."""
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.read())
    torch.set_num_threads(1)
    # Python ignores SIGXFSZ; at the file size limit the process must die of it, so that the
    # runner reports output_limit, not a string of EFBIG errors in the learner's code.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    try:
        run_job(job, fd)
    finally:
        _flush()
        # Threads or atexit handlers the learner left behind must not keep the process alive.
        _exit(0)
