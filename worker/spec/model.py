"""The typed model of an exercise, parsed from ``exercises/<slug>/exercise.yaml``.

An exercise names the function the learner writes, the cases it is called on (inputs generated
from a seed), the checks that grade each case with their weights, the misconceptions the feedback
recognises, and golden submissions with the verdict each must get.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Module:
    """A section of the course notebook; exercises are listed grouped by module in this order."""

    key: str
    title: str


# The order of the course notebook (shared/seed/intro-to-pytorch.md).
MODULES: tuple[Module, ...] = (
    Module("tensor-basics", "Tensor basics"),
    Module("numpy-interop", "NumPy interoperability and memory"),
    Module("dtypes", "Data types"),
    Module("indexing", "Indexing"),
    Module("shapes-views", "Shapes and views"),
    Module("broadcasting-inplace", "Broadcasting views and in-place operations"),
    Module("images", "Images (OpenCV, NumPy)"),
    Module("autograd", "Autograd"),
    Module("devices", "Devices (GPU-aware)"),
)
MODULE_KEYS = tuple(m.key for m in MODULES)


class ExerciseError(Exception):
    """An exercise's files are malformed; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseSpec(_Strict):
    """One call of the learner's function: named arguments, each a literal or a generator spec.

    A generator spec is a mapping with a ``gen`` key (see :mod:`worker.cases`); everything else
    is passed through as a literal. The same seed gives the same inputs to the reference and to
    the learner.
    """

    name: str
    visible: bool = False
    seed: int = 0
    args: dict[str, Any] = Field(default_factory=dict)
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError("a case name uses letters, digits, '-', '_' and '.' only")
        return value


class CheckSpec(_Strict):
    """A check chosen by name from the registry, with its arguments and weight."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(default=1.0, gt=0)
    extra_credit: bool = False
    # Restrict the check to some cases (by name); empty means every case.
    cases: tuple[str, ...] = ()
    label: str = ""

    @property
    def key(self) -> str:
        """The name this check is reported under (its label, else its registry name)."""
        return self.label or self.name


class MisconceptionSpec(_Strict):
    """A known mistake, recognised when a check fails and the conditions below all hold.

    - ``details``: the failing check reported these facts (e.g. ``{got: torch.float64}``; a
      list means any of its values);
    - ``output_matches``: the learner's return value (or, with ``target``, another target such
      as ``input.w``) equals what this function of the reference module gives on the same
      inputs (a "wrong twin" of the reference);
    - ``error_matches``: the learner's function raised an exception whose text matches.
    """

    id: str
    check: str
    hint: str
    details: dict[str, Any] = Field(default_factory=dict)
    output_matches: str | None = None
    target: str = "result"
    error_matches: str | None = None

    @field_validator("error_matches")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class GoldenSpec(_Strict):
    """A submission kept with the exercise, and the verdict it must get."""

    file: str
    expect: Literal["correct", "wrong"]
    # For a wrong submission: the checks it must lose points on and the misconceptions its
    # feedback must name.
    fails: tuple[str, ...] = ()
    misconceptions: tuple[str, ...] = ()
    # Devices on which this verdict is expected (empty: every device). A submission that builds
    # constants on the CPU is only wrong where the case runs on a GPU.
    devices: tuple[Literal["cpu", "cuda"], ...] = ()

    @model_validator(mode="after")
    def _wrong_names_its_target(self) -> GoldenSpec:
        if self.expect == "wrong" and not self.fails:
            raise ValueError("a wrong golden submission names the checks it fails ('fails')")
        return self


class Exercise(_Strict):
    """An exercise as loaded from its folder."""

    slug: str
    title: str
    module: str
    order: int = 0
    function: str
    signature: str
    points: float = Field(default=10.0, gt=0)
    device: Literal["cpu", "cuda"] = "cpu"
    time_limit_s: float = Field(default=5.0, gt=0, le=120)
    cases: tuple[CaseSpec, ...]
    checks: tuple[CheckSpec, ...]
    # The learning objective: the check or checks (by key) the exercise exists to teach. A
    # submission that fails one of them on any case scores at most half the points.
    objective: tuple[str, ...] = ()
    misconceptions: tuple[MisconceptionSpec, ...] = ()
    golden: tuple[GoldenSpec, ...] = ()
    # Filled in by the loader, not by the YAML.
    statement: str = ""
    starter: str = ""
    folder: Path = Path()
    content_hash: str = ""

    @field_validator("slug")
    @classmethod
    def _slug_format(cls, value: str) -> str:
        if not SLUG_PATTERN.fullmatch(value):
            raise ValueError("a slug is lowercase words joined by '-', e.g. 'flat-view'")
        return value

    @field_validator("module")
    @classmethod
    def _known_module(cls, value: str) -> str:
        if value not in MODULE_KEYS:
            raise ValueError(f"unknown module {value!r}; known: {', '.join(MODULE_KEYS)}")
        return value

    @field_validator("function")
    @classmethod
    def _function_identifier(cls, value: str) -> str:
        if not IDENTIFIER.fullmatch(value):
            raise ValueError("the function name must be a Python identifier")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Exercise:
        names = [c.name for c in self.cases]
        if not names:
            raise ValueError("an exercise needs at least one case")
        if len(set(names)) != len(names):
            raise ValueError("case names must be unique")
        if not any(c.visible for c in self.cases):
            raise ValueError("an exercise needs at least one visible case")
        keys = [c.key for c in self.checks]
        if not keys:
            raise ValueError("an exercise needs at least one check")
        if len(set(keys)) != len(keys):
            raise ValueError("two checks share a name; give one a 'label'")
        for check in self.checks:
            unknown = set(check.cases) - set(names)
            if unknown:
                raise ValueError(f"check {check.key!r} names unknown cases {sorted(unknown)}")
        for key in self.objective:
            if key not in keys:
                raise ValueError(f"objective names unknown check {key!r}; checks: "
                                 f"{', '.join(keys)}")
        if any(c.extra_credit for c in self.checks if c.key in self.objective):
            raise ValueError("an extra-credit check cannot be the learning objective")
        ids = [m.id for m in self.misconceptions]
        if len(set(ids)) != len(ids):
            raise ValueError("misconception ids must be unique")
        for m in self.misconceptions:
            if m.check not in keys:
                raise ValueError(f"misconception {m.id!r} refers to unknown check {m.check!r}")
        for golden in self.golden:
            if set(golden.fails) - set(keys):
                raise ValueError(f"golden {golden.file!r} fails unknown checks")
            if set(golden.misconceptions) - set(ids):
                raise ValueError(f"golden {golden.file!r} names unknown misconceptions")
        return self

    @property
    def visible_cases(self) -> tuple[CaseSpec, ...]:
        """The cases whose inputs the learner sees."""
        return tuple(c for c in self.cases if c.visible)

    @property
    def hidden_cases(self) -> tuple[CaseSpec, ...]:
        """The cases the learner sees only as passed or failed with a message."""
        return tuple(c for c in self.cases if not c.visible)

    def checks_for(self, case: CaseSpec) -> tuple[CheckSpec, ...]:
        """The checks that grade this case."""
        return tuple(c for c in self.checks if not c.cases or case.name in c.cases)
