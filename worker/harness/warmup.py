"""A rehearsal of the harness's own work on a trivial function.

The zygote runs it once so that every lazy import is done and every schema built before it forks;
each pre-forked child runs it again while it waits for its job, so that the pages the harness
touches are already its own (copy-on-write faults taken ahead of time, off the critical path).
Single-threaded, draws no random numbers, never touches CUDA, leaves nothing behind.
"""

from __future__ import annotations

import json
import os

from worker.cases import build_inputs
from worker.harness.frames import FrameReader, write_frame
from worker.invocation import invoke
from worker.observation import decode, unpack
from worker.spec import CaseSpec

_SOURCE = "def rehearsal(a, t):\n    return t + 1\n"


def rehearse(decode_too: bool = True) -> None:
    """Parse a job, build inputs, call, observe and frame, as a real run does; with
    ``decode_too``, also decode the frame as the runner does (the zygote warms that code for
    nobody but itself, so children skip it)."""
    job = json.loads(json.dumps({"cases": [{"name": "warm-up", "seed": 1, "args": {
        "a": {"gen": "array", "shape": [2, 2]}, "t": {"gen": "tensor", "shape": [2]}}}]}))
    case = CaseSpec.model_validate(job["cases"][0])
    namespace: dict[str, object] = {}
    exec(compile(_SOURCE, "<rehearsal>", "exec"), namespace)
    fn = namespace["rehearsal"]
    assert callable(fn)
    header, encoder = invoke(fn, case.name, build_inputs(case, "cpu"), (), 1 << 20)
    read_end, write_end = os.pipe()
    try:
        write_frame(write_end, {"type": "case", "observation": header}, encoder.arrays)
        data = os.read(read_end, 1 << 20)
    finally:
        os.close(read_end)
        os.close(write_end)
    if not decode_too:
        return
    (payload,) = FrameReader(1 << 24).feed(data)
    raw_header, arrays = unpack(payload, 1 << 24)
    decode(raw_header["observation"], arrays)
