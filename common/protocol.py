"""The verdict on one submission: what the trusted side decided, as data other processes read.

Importable by the web process (no torch). The JSON form is what ``grader check --json`` prints
and what the service stores.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# How one call of the learner's function ended, as the learner is told.
CaseStatus = Literal[
    "returned",  # the function returned; checks decide the rest
    "raised",  # the function raised an exception
    "timeout",  # the time limit ran out during this case
    "memory_limit",
    "output_limit",
    "crashed",  # the process died (signal, os._exit, segfault)
    "not_run",  # an earlier case ended the run, or the submission never loaded
    "tampering",  # the run was stopped for reaching into the grader (see docs/sandbox.md)
]
# "tampering": a run of the submission was stopped for reaching into the grader; no points,
# and instructors see it as such.
VerdictStatus = Literal["passed", "failed", "error", "tampering"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckResult(_Model):
    """One check on one case."""

    name: str
    case: str
    visible: bool
    passed: bool
    score: float
    max_score: float
    message: str
    misconceptions: list[str] = Field(default_factory=list)
    extra_credit: bool = False


class CaseReport(_Model):
    """How one case ran, with the learner-visible inputs when the case is visible."""

    name: str
    visible: bool
    status: CaseStatus
    message: str = ""
    inputs: dict[str, str] = Field(default_factory=dict)
    duration_s: float | None = None


class Verdict(_Model):
    """The graded result of one submission."""

    exercise: str
    status: VerdictStatus
    score: float
    max_score: float
    checks: list[CheckResult]
    cases: list[CaseReport] = Field(default_factory=list)
    stdout: str = ""
    error: str | None = None
    content_hash: str = ""
    notices: list[str] = Field(default_factory=list)
    tampering: str | None = None  # what the tripwire saw, for instructors to follow up

    @property
    def full_marks(self) -> bool:
        """True when every check that counts towards the maximum passed."""
        return self.status == "passed"
