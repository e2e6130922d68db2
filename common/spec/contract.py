"""What an exercise may ask of its checks: the arguments each takes and the details it reports.

The checks live in the worker (they need NumPy and the observations), so this package knows
them only through a :class:`CheckContract` that the worker hands to the
:class:`~common.spec.library.ExerciseLibrary` (``worker.checks.CONTRACT``). With one, loading an
exercise binds every check's ``args`` against the check's signature and every misconception's
``details`` keys against what its check declares, and reports each mistake with its file, field
and line. Without one (the web process, which must not import the checks), only the check
names are checked at load; the worker's validation of an upload then checks the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from common.spec.checknames import did_you_mean
from common.spec.model import Exercise, Location


@dataclass(frozen=True)
class ContractProblem:
    """A mistake in one check's arguments, located relative to that check's entry."""

    location: Location  # e.g. ("args", "inptu")
    message: str
    at_value: bool = False  # point at the value (a wrong type) rather than the key


class CheckContract(Protocol):
    """The checks' side of the contract, as the worker's registry knows it."""

    def argument_problems(self, name: str, args: Mapping[str, Any]) -> list[ContractProblem]:
        """What is wrong with ``args`` for the check registered as ``name`` (nothing: [])."""
        ...

    def details_of(self, name: str) -> frozenset[str]:
        """The ``details`` keys the check ``name`` may report on a failure."""
        ...


def contract_problems(exercise: Exercise, contract: CheckContract) -> list[
    tuple[Location, str, bool]
]:
    """Every check argument and misconception detail of ``exercise`` that its checks do not
    accept, as (location in exercise.yaml, message, at the value)."""
    found: list[tuple[Location, str, bool]] = []
    for i, check in enumerate(exercise.checks):
        for problem in contract.argument_problems(check.name, check.args):
            found.append((("checks", i, *problem.location), problem.message, problem.at_value))
    by_key = {c.key: c.name for c in exercise.checks}
    for i, misconception in enumerate(exercise.misconceptions):
        name = by_key.get(misconception.check)
        if name is None:  # an unknown check: the model already said so
            continue
        declared = contract.details_of(name)
        for key in misconception.details:
            if key in declared:
                continue
            reports = (f"It reports: {', '.join(sorted(declared))}." if declared else
                       "It reports none: match on 'output_matches' or 'error_matches' instead.")
            suggestion = did_you_mean(key, declared)
            found.append((("misconceptions", i, "details", key),
                          f"check {name!r} reports no detail {key!r}"
                          f"{suggestion}{' ' if suggestion else '. '}{reports}", False))
    return found
