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

from common.spec.checknames import CHECK_NAMES, did_you_mean
from common.spec.generators import Argument, as_written

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
    """An exercise's files are malformed; the message names the file and the field.

    ``problems`` holds every problem found, each with its file, line, field and caret (see
    :mod:`common.spec.problems`); the message renders them all.
    """

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.problems: list[Any] = list(problems or [])


Location = tuple[str | int, ...]


class InconsistentExercise(Exception):
    """Fields that are each valid but do not fit together, every one with its location.

    Not a ValueError, so that pydantic lets it through with its locations instead of folding
    it into one error at the top level.
    """

    def __init__(self, items: list[tuple[Location, str]]) -> None:
        super().__init__("; ".join(f"field {'.'.join(map(str, loc))}: {m}" for loc, m in items))
        self.items = items


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseSpec(_Strict):
    """One call of the learner's function: named arguments, each a literal or a generator spec.

    A generator spec is a mapping with a ``gen`` key, typed by
    :mod:`common.spec.generators` (built by :mod:`worker.cases`); everything else is passed
    through as a literal. The same seed gives the same inputs to the reference and to the
    learner.
    """

    name: str
    visible: bool = False
    seed: int = 0
    args: dict[str, Argument] = Field(default_factory=dict)
    description: str = ""

    def args_as_written(self) -> dict[str, Any]:
        """The arguments as ``exercise.yaml`` wrote them (what the learner is shown)."""
        return {name: as_written(value) for name, value in self.args.items()}

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

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in CHECK_NAMES:
            raise ValueError(f"unknown check {value!r}{did_you_mean(value, CHECK_NAMES)}")
        return value

    @property
    def key(self) -> str:
        """The name this check is reported under (its label, else its registry name)."""
        return self.label or self.name


class MisconceptionSpec(_Strict):
    """A known mistake, recognised when a check fails and the conditions below all hold.

    - ``details``: the failing check reported these facts (e.g. ``{got: torch.float64}``; a
      list means any of its values); each check declares the keys it reports, and a key it
      does not declare is refused at load (:mod:`common.spec.contract`);
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
        problems = self._inconsistencies()
        if problems:
            raise InconsistentExercise(problems)
        return self

    def _inconsistencies(self) -> list[tuple[Location, str]]:
        """Every cross-field problem, located at the field to change."""
        found: list[tuple[Location, str]] = []
        names = [c.name for c in self.cases]
        if not names:
            found.append((("cases",), "an exercise needs at least one case"))
        elif not any(c.visible for c in self.cases):
            found.append((("cases",), "an exercise needs at least one visible case"))
        for i, name in enumerate(names):
            if name in names[:i]:
                found.append((("cases", i, "name"), f"case name {name!r} is used twice"))
        keys = [c.key for c in self.checks]
        if not keys:
            found.append((("checks",), "an exercise needs at least one check"))
        for i, check in enumerate(self.checks):
            if check.key in keys[:i]:
                found.append((("checks", i, "label" if check.label else "name"),
                              f"two checks share the name {check.key!r}; give one a 'label'"))
            unknown = set(check.cases) - set(names)
            if unknown:
                found.append((("checks", i, "cases"),
                              f"check {check.key!r} names unknown cases {sorted(unknown)}"))
        extra = {c.key for c in self.checks if c.extra_credit}
        for i, key in enumerate(self.objective):
            if key not in keys:
                found.append((("objective", i),
                              f"objective names unknown check {key!r}{did_you_mean(key, keys)}"))
            elif key in extra:
                found.append((("objective", i),
                              f"the extra-credit check {key!r} cannot be the learning objective"))
        ids = [m.id for m in self.misconceptions]
        for i, m in enumerate(self.misconceptions):
            if m.id in ids[:i]:
                found.append((("misconceptions", i, "id"),
                              f"misconception id {m.id!r} is used twice"))
            if m.check not in keys:
                found.append((("misconceptions", i, "check"),
                              f"misconception {m.id!r} refers to unknown check {m.check!r}"
                              f"{did_you_mean(m.check, keys)}"))
        for i, golden in enumerate(self.golden):
            for target in golden.fails:
                if target not in keys:
                    found.append((("golden", i, "fails"),
                                  f"golden {golden.file!r} fails unknown check {target!r}"
                                  f"{did_you_mean(target, keys)}"))
            for named in golden.misconceptions:
                if named not in ids:
                    found.append((("golden", i, "misconceptions"),
                                  f"golden {golden.file!r} names unknown misconception "
                                  f"{named!r}{did_you_mean(named, ids)}"))
        return found

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
