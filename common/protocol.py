"""The verdict on one submission: what the trusted side decided, as data other processes read.

Importable by the web process (no torch). The JSON form is what ``grader check --json`` prints
and what the service stores.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
VerdictStatus = Literal["passed", "failed", "tampering"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# How verdicts stored before hints were data (issue 12) carried them: appended to the message.
LEGACY_HINT_MARK = "\nHint: "


class Hint(_Model):
    """How to fix a known mistake the grader recognised in a failed check."""

    misconception: str  # the id in exercise.yaml (instructors' statistics; never shown)
    text: str  # for the learner, with `backticked` code


class CheckResult(_Model):
    """One check on one case.

    ``message`` says what was expected and what came back; ``hints`` say how to fix the
    mistakes recognised in it (none on a hidden case: a hint may quote its values).
    """

    name: str
    case: str
    visible: bool
    passed: bool
    score: float
    max_score: float
    message: str
    misconceptions: list[str] = Field(default_factory=list)
    hints: list[Hint] = Field(default_factory=list)
    extra_credit: bool = False
    # False when the case did not return (the code did not load, the function raised, ran out
    # of time...): the check had nothing to look at, and its case (or the verdict's ``problem``)
    # says why, once.
    run: bool = True
    # True for a check the exercise's learning objective names.
    objective: bool = False

    @model_validator(mode="before")
    @classmethod
    def _hints_out_of_old_messages(cls, data: Any) -> Any:
        """Results stored before hints were data have them at the end of the message: move
        them to ``hints`` so every reader sees one shape."""
        if not isinstance(data, dict) or "hints" in data:
            return data
        message = str(data.get("message", ""))
        text, *hints = ("\n" + message).split(LEGACY_HINT_MARK)
        if not hints:
            return data
        ids = list(data.get("misconceptions") or [])
        return {**data, "message": text.strip("\n"),
                "hints": [{"misconception": ids[i] if i < len(ids) else "", "text": h.strip()}
                          for i, h in enumerate(hints)]}


class CodeProblem(_Model):
    """Why a submission could not run at all: the error, and where in the learner's code."""

    message: str  # e.g. "SyntaxError: expected ':'" or "NameError: name 'np' is not defined"
    line: int | None = None  # 1-based line of the learner's code, when known
    code: str = ""  # that line's text
    column: int | None = None  # 1-based position of the caret under ``code``, when known
    traceback: str = ""  # the learner's own frames, for an error raised while loading
    hint: str = ""  # how to fix it, when the grader recognises the mistake

    def render(self) -> str:
        """The problem as plain text: message, the line with a caret under it, the hint."""
        lines = [self.message if self.line is None else f"line {self.line}: {self.message}"]
        if self.code:
            lines.append(f"    {self.code}")
            if self.column is not None:
                lines.append("    " + " " * max(self.column - 1, 0) + "^")
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)


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
    # Set when the submission could not run at all (it does not compile or load, or its
    # function cannot be called as the signature says): then no check ran.
    problem: CodeProblem | None = None
    # The learning objective's checks this submission failed (its score is capped at half).
    objective_missed: list[str] = Field(default_factory=list)
    # Extra credit earned on top of the maximum (part of ``score``).
    extra_credit: float = 0.0

    @property
    def full_marks(self) -> bool:
        """True when every check that counts towards the maximum passed."""
        return self.status == "passed"
