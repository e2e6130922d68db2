"""Building check contexts in-process from trusted test functions (no sandbox needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.spec import CaseSpec
from worker.checks import CheckContext
from worker.invocation import invoke
from worker.observation import Encoder, Observation, decode

Inputs = Callable[[], dict[str, Any]]


def observe(fn: Callable[..., Any], inputs: dict[str, Any],
            probes: tuple[str, ...] = ()) -> Observation:
    header, encoder = invoke(fn, "case", inputs, probes, 2**26)
    return decode(header, dict(enumerate(encoder.arrays)))


def context(learner: Callable[..., Any], reference: Callable[..., Any], inputs: Inputs,
            probes: tuple[str, ...] = ()) -> CheckContext:
    encoder = Encoder(2**26)
    facts = {name: encoder.encode(value) for name, value in inputs().items()}
    originals = decode({"case": "case", "status": "returned", "inputs_after": facts},
                       dict(enumerate(encoder.arrays))).inputs_after
    return CheckContext(
        case=CaseSpec(name="case"),
        got=observe(learner, inputs(), probes),
        expected=observe(reference, inputs(), probes),
        originals=originals,
    )
