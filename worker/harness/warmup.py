"""A rehearsal of the harness's own work on a trivial function.

The zygote runs it once, before it forks anything, so that every lazy import is done and every
schema built in the image its children share. Single-threaded, draws no random numbers, never
touches CUDA, leaves nothing behind. (Children do not rehearse again while they wait: measured,
taking the copy-on-write faults ahead of time cost more CPU than it saved in latency.)
"""

from __future__ import annotations

import json
import os

from common.spec import CaseSpec
from worker.cases import build_inputs
from worker.harness.frames import FrameReader, make_writer, new_key
from worker.invocation import invoke
from worker.observation import decode

_SOURCE = "def rehearsal(a, t):\n    return t + 1\n"


def rehearse() -> None:
    """Parse a job, build inputs, call, observe, frame and decode, as a real run does."""
    job = json.loads(json.dumps({"cases": [{"name": "warm-up", "seed": 1, "args": {
        "a": {"gen": "array", "shape": [2, 2]}, "t": {"gen": "tensor", "shape": [2]}}}]}))
    case = CaseSpec.model_validate(job["cases"][0])
    namespace: dict[str, object] = {}
    exec(compile(_SOURCE, "<rehearsal>", "exec"), namespace)
    fn = namespace["rehearsal"]
    assert callable(fn)
    header, encoder = invoke(fn, case.name, build_inputs(case, "cpu"), (), 1 << 20)
    key = new_key()
    read_end, write_end = os.pipe()
    try:
        make_writer(key, write_end)({"type": "case", "observation": header}, encoder.arrays)
        data = os.read(read_end, 1 << 20)
    finally:
        os.close(read_end)
        os.close(write_end)
    ((raw_header, arrays),) = FrameReader(key, 1 << 24).feed(data)
    decode(raw_header["observation"], dict(enumerate(arrays)))
