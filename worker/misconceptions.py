"""Recognising known mistakes in a failed check, so feedback can say how to fix them."""

from __future__ import annotations

import re
from collections.abc import Callable

from common.spec import MisconceptionSpec
from worker.checks.base import CheckOutcome
from worker.checks.values import compare_values
from worker.observation import Observation


def _detail_matches(actual: object, wanted: object) -> bool:
    if isinstance(wanted, list):  # any of these values
        return any(_detail_matches(actual, w) for w in wanted)
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual == wanted
    return str(actual).removeprefix("torch.") == str(wanted).removeprefix("torch.")


def recognise(
    misconception: MisconceptionSpec,
    outcome: CheckOutcome | None,
    observation: Observation | None,
    twin: Callable[[str], Observation],
    device: str,
) -> bool:
    """Whether a failed check on one case shows ``misconception``.

    ``outcome`` is None when the case did not return (it raised, timed out, crashed): then only
    misconceptions about an error can match. ``twin(name)`` observes the reference module's
    "wrong twin" function ``name`` on the case's inputs.
    """
    header = observation.header if observation is not None else None
    if misconception.error_matches is not None:
        if header is None or header.error is None:
            return False
        text = f"{header.error.type}: {header.error.message}"
        if not re.search(misconception.error_matches, text):
            return False
    elif outcome is None:
        return False
    if misconception.details:
        if outcome is None:
            return False
        for key, wanted in misconception.details.items():
            if not _detail_matches(outcome.details.get(key), wanted):
                return False
    if misconception.output_matches is not None:
        got = None if observation is None else observation.target(misconception.target)
        want = twin(misconception.output_matches).target(misconception.target)
        if got is None or want is None or got.kind != want.kind:
            return False
        if not compare_values(got, want, device=device).passed:
            return False
    return True
