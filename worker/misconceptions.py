"""Recognising known mistakes in a failed check, so feedback can say how to fix them."""

from __future__ import annotations

import re
from collections.abc import Callable

from worker.checks.base import CheckOutcome
from worker.checks.values import compare_values
from worker.observation import Observation, Value
from worker.spec import MisconceptionSpec


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
    twin_result: Callable[[str], Value | None],
    device: str,
) -> bool:
    """Whether a failed check on one case shows ``misconception``.

    ``outcome`` is None when the case did not return (it raised, timed out, crashed): then only
    misconceptions about an error can match. ``twin_result(name)`` computes the result of the
    reference module's "wrong twin" function ``name`` on the case's inputs.
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
        if observation is None or observation.result is None:
            return False
        twin = twin_result(misconception.output_matches)
        same = compare_values(observation.result, twin, device=device)
        if not same.passed or twin is None or observation.result.kind != twin.kind:
            return False
    return True
