"""Entry point of the process that runs learner code: ``python -m worker.harness FD``.

Reads the job (JSON) on stdin, loads the submission, runs each case and writes frames to FD.
Everything it needs from the grader is imported before the learner's code is loaded.
"""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any

import torch

from worker.cases import build_inputs
from worker.harness.frames import write_frame
from worker.invocation import error_facts, invoke
from worker.spec import CaseSpec

SUBMISSION_MODULE = "submission"


def load_submission(path: str) -> types.ModuleType:
    """Execute the learner's source as the module ``submission``."""
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    module = types.ModuleType(SUBMISSION_MODULE)
    module.__file__ = path
    sys.modules[SUBMISSION_MODULE] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def run_job(job: dict[str, Any], fd: int) -> None:
    """Run every case of the job, streaming one frame per event to ``fd``."""
    source_path = job["source_path"]
    write_frame(fd, {"type": "ready"})  # the time limit starts now, not at interpreter start
    try:
        module = load_submission(source_path)
    except BaseException as exc:
        write_frame(fd, {"type": "load_error", "error": error_facts(exc, source_path)})
        return
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
    for raw in job["cases"]:
        case = CaseSpec.model_validate(raw)
        write_frame(fd, {"type": "start", "case": case.name})
        inputs = build_inputs(case, job["device"])
        header, encoder = invoke(
            fn,
            case.name,
            inputs,
            job["probes"].get(case.name, ()),
            int(job["max_observation_bytes"]),
            source_file=source_path,
        )
        write_frame(fd, {"type": "case", "observation": header}, encoder.arrays)
    write_frame(fd, {"type": "done"})


def main() -> None:
    """Run the job read from stdin; exit without running the learner's atexit handlers."""
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.read())
    torch.set_num_threads(1)
    try:
        run_job(job, fd)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Threads or atexit handlers the learner left behind must not keep the process alive.
        os._exit(0)
