"""What every check shares: its context, its outcome, and the registry it is chosen from.

A check is a small pure function ``check(ctx, **args) -> CheckOutcome``, registered by name with
:func:`register`, which also declares the ``details`` keys it reports (what misconceptions in
``exercise.yaml`` may match on). ``exercise.yaml`` chooses checks by that name and passes
``args``, bound against the function's signature when the exercise loads
(:mod:`worker.checks.contract`); the pipeline calls each chosen check once per case, only when
the learner's function returned on that case (a case that raised, timed out or crashed fails
every check with that reason instead).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from common.spec import CaseSpec
from worker.observation import Observation, Value

Detail = str | int | float | bool | None


@dataclass(frozen=True)
class CheckOutcome:
    """Passed or not, a message for the learner, and facts a misconception may match on."""

    passed: bool
    message: str = ""
    details: dict[str, Detail] = field(default_factory=dict)


def passed(message: str = "", **details: Detail) -> CheckOutcome:
    """A passing outcome."""
    return CheckOutcome(True, message, details)


def failed(message: str, **details: Detail) -> CheckOutcome:
    """A failing outcome; the message says what was expected and what came back."""
    return CheckOutcome(False, message, details)


@dataclass(frozen=True)
class CheckContext:
    """What a check sees for one case: the learner's observation, the reference's, and the
    original inputs as the trusted side generated them."""

    case: CaseSpec
    got: Observation
    expected: Observation
    originals: dict[str, Value]
    device: str = "cpu"

    def pair(self, target: str) -> tuple[Value | None, Value | None]:
        """The learner's and the reference's value at ``target`` (see Observation.target)."""
        return self.got.target(target), self.expected.target(target)


CheckFunction = Callable[..., CheckOutcome]


@dataclass(frozen=True)
class Check:
    """A registered check: its function, the probes it needs from the sandbox, the details it
    reports on a failure, its docs."""

    name: str
    function: CheckFunction
    probes: tuple[str, ...] = ()
    details: frozenset[str] = frozenset()

    @property
    def doc(self) -> str:
        """The check's docstring (every registered check has one, with an example)."""
        return self.function.__doc__ or ""

    @cached_property  # bound on every call of the check: worth computing once
    def signature(self) -> inspect.Signature:
        """The function's signature: ``ctx``, then the arguments ``exercise.yaml`` passes."""
        return inspect.signature(self.function)


class UnknownCheckError(KeyError):
    """An exercise names a check that is not registered."""


class CheckArgumentError(TypeError):
    """The arguments from ``exercise.yaml`` do not fit the check's signature: the exercise's
    fault (loading it with the contract says so first, with the line)."""


class CheckBug(Exception):
    """A check raised, or reported a detail it does not declare, while judging: the grader's
    fault, not the exercise's nor the learner's."""


REGISTRY: dict[str, Check] = {}


def register(name: str, probes: tuple[str, ...] = (),
             details: tuple[str, ...] = ()) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under ``name``; ``probes`` are extra observations it needs,
    ``details`` the keys of the facts it reports on a failure (the contract with the
    misconceptions of ``exercise.yaml``)."""

    def decorate(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        REGISTRY[name] = Check(name, function, probes, frozenset(details))
        return function

    return decorate


def get_check(name: str) -> Check:
    """The check registered as ``name``; an unknown name fails with the list of known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownCheckError(f"unknown check {name!r}; known checks: {known}") from None


def call_check(name: str, ctx: CheckContext, args: dict[str, Any]) -> CheckOutcome:
    """Run a registered check with the arguments from ``exercise.yaml``.

    Arguments that do not fit the signature raise :class:`CheckArgumentError` before the check
    runs; whatever goes wrong inside it raises :class:`CheckBug`, so the two are never confused.
    """
    check = get_check(name)
    try:
        bound = check.signature.bind(ctx, **args)
    except TypeError as exc:
        raise CheckArgumentError(f"check {name!r}: {exc}") from None
    try:
        outcome = check.function(*bound.args, **bound.kwargs)
    except Exception as exc:
        raise CheckBug(f"check {name!r} raised {type(exc).__name__}: {exc}") from exc
    undeclared = set(outcome.details) - check.details
    if undeclared:
        # Misconceptions are checked at load against the declared keys only.
        raise CheckBug(f"check {name!r} reported details it does not declare: "
                       f"{sorted(undeclared)}")
    return outcome


def shape_text(shape: tuple[int, ...] | None) -> str:
    """A shape as the learner writes it: ``(3, 4)``."""
    return str(tuple(shape or ()))


def what(value: Value | None) -> str:
    """A short description of a value for messages; ``nothing`` when it is missing."""
    return "nothing" if value is None else value.describe()
