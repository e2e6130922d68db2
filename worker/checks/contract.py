"""The registry's side of the exercise contract (:mod:`common.spec.contract`): an exercise's
check arguments bound against each check's signature, and its misconceptions' ``details``
against what each check declares, when the exercise loads.

Libraries the worker grades or validates with are made by :func:`checked_library`, so a
wrong argument is an authoring error naming the file, the field and the line (``grader
exercises validate``, an upload's validation, a grading), never a ``TypeError`` mid-grading.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from common.spec import ExerciseLibrary
from common.spec.checknames import did_you_mean
from common.spec.contract import ContractProblem
from worker.checks.base import REGISTRY, Check


def _arguments(check: Check) -> dict[str, inspect.Parameter]:
    """The parameters ``exercise.yaml`` may pass: all but the context."""
    return dict(list(check.signature.parameters.items())[1:])


def _listing(parameters: Mapping[str, inspect.Parameter]) -> str:
    if not parameters:
        return "It takes no arguments."
    return "Its arguments: " + ", ".join(
        name if p.default is inspect.Parameter.empty else f"{name} (optional)"
        for name, p in parameters.items()) + "."


def _type_problem(check: Check, name: str, value: Any) -> str | None:
    """Why ``value`` is not of the type the check's parameter ``name`` is annotated with."""
    hint = typing.get_type_hints(check.function).get(name)
    if hint is None:
        return None
    try:
        # Strict: YAML's "yes" or "1e-3" (a string, for PyYAML) is not a bool or a number.
        TypeAdapter(hint).validate_python(value, strict=True)
    except ValidationError as exc:
        wanted = str(hint).replace("typing.", "")
        first = exc.errors()[0]["msg"]
        return (f"check {check.name!r}: argument {name!r} should be {wanted}, got {value!r} "
                f"({first.lower()})")
    return None


def _then(suggestion: str) -> str:
    """A did-you-mean suggestion (ending in "?"), or the end of a sentence, before the next."""
    return f"{suggestion} " if suggestion else ". "


class RegistryContract:
    """What the registered checks accept and report (a :class:`CheckContract`)."""

    def argument_problems(self, name: str, args: Mapping[str, Any]) -> list[ContractProblem]:
        """Unknown, missing and mistyped arguments of the check ``name``."""
        check = REGISTRY.get(name)
        if check is None:  # the exercise model already refused the name
            return []
        parameters = _arguments(check)
        found = []
        for arg, value in args.items():
            if arg not in parameters:
                found.append(ContractProblem(
                    ("args", arg), f"check {name!r} takes no argument {arg!r}"
                    f"{_then(did_you_mean(arg, set(parameters)))}{_listing(parameters)}"))
            elif (problem := _type_problem(check, arg, value)) is not None:
                found.append(ContractProblem(("args", arg), problem, at_value=True))
        for arg, parameter in parameters.items():
            if parameter.default is inspect.Parameter.empty and arg not in args:
                found.append(ContractProblem(
                    ("args",), f"check {name!r} needs the argument {arg!r}. "
                    f"{_listing(parameters)}"))
        return found

    def details_of(self, name: str) -> frozenset[str]:
        """The details the check ``name`` declares (none for an unknown name)."""
        check = REGISTRY.get(name)
        return check.details if check is not None else frozenset()


CONTRACT = RegistryContract()


def checked_library(root: Path | str | None = None) -> ExerciseLibrary:
    """A library of ``root`` whose exercises are bound against the registered checks."""
    return ExerciseLibrary(root, contract=CONTRACT)
