"""What the instructors' exercise page says about the submissions: the most common failing
checks grouped by check and by the mistake behind them, and how many attempts learners needed
before full marks.

The verdicts are each submission's current grading (a regrade replaces what it regrades;
:mod:`grader.gradings` reads them). A failure is grouped under the misconception it was
recognised as, else under its message with the values taken out (``expected 3 got 4`` and
``expected 5 got 6`` are the same mistake).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from common.protocol import Verdict
from common.records import SubmissionRecord
from grader.pages.attempts import regrade_of

MESSAGES_PER_CHECK = 3
# A number standing on its own (not part of a name such as float64), with an optional sign,
# decimals and exponent.
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
_RUNS = re.compile(r"…(?:[,\s]*…)+")
_BOOLEAN = re.compile(r"\b(?:True|False)\b")
# How a comparison was made, not what went wrong.
_TOLERANCE = re.compile(r"\s*\((?:tolerance: [^)]*|compared exactly)\)")


def mistake_of(message: str) -> str:
    """A failure message as the mistake it describes: its first line, with the values replaced
    by ``…`` (runs of values by one)."""
    lines = message.strip().splitlines()
    if not lines:
        return "(no message)"
    text = _TOLERANCE.sub("", lines[0])
    return _RUNS.sub("…", _NUMBER.sub("…", _BOOLEAN.sub("…", text)))[:300]


@dataclass
class FailingCheck:
    """A check and how often it failed, with the mistakes behind it: a recognised
    misconception (by id) or a message pattern."""

    name: str
    submissions: int = 0  # graded submissions in which it failed on some case
    messages: Counter[str] = field(default_factory=Counter)  # message patterns
    misconceptions: Counter[str] = field(default_factory=Counter)
    unrecognised: int = 0  # submissions with a failure no misconception explains
    not_run: int = 0  # submissions in which the check never got to run (code did not load...)

    def top_messages(self) -> list[tuple[str, int]]:
        """The most frequent message patterns, most frequent first."""
        return self.messages.most_common(MESSAGES_PER_CHECK)

    def top_misconceptions(self) -> list[tuple[str, int]]:
        """The recognised misconceptions, most frequent first."""
        return self.misconceptions.most_common()


def failing_checks(verdicts: list[Verdict]) -> list[FailingCheck]:
    """Checks by the number of graded submissions they failed in, most first; each check,
    misconception and message pattern counts once per submission."""
    found: dict[str, FailingCheck] = {}
    for verdict in verdicts:
        messages: dict[str, set[str]] = {}
        known: dict[str, set[str]] = {}
        ran: dict[str, bool] = {}
        for check in verdict.checks:
            if check.passed or check.extra_credit:
                continue
            ran[check.name] = ran.get(check.name, False) or check.run
            if check.misconceptions:
                known.setdefault(check.name, set()).update(check.misconceptions)
            elif check.run:
                messages.setdefault(check.name, set()).add(mistake_of(check.message))
        for name, any_run in ran.items():
            entry = found.setdefault(name, FailingCheck(name))
            entry.submissions += 1
            entry.not_run += not any_run and name not in known
            entry.unrecognised += name in messages
            entry.misconceptions.update(known.get(name, set()))
            entry.messages.update(messages.get(name, set()))
    return sorted(found.values(), key=lambda f: (-f.submissions, f.name))


@dataclass(frozen=True)
class AttemptsToFullMarks:
    """Per learner, the attempts before the first full marks."""

    counts: dict[int, int]  # attempts needed -> learners
    not_yet: int  # learners who tried without reaching full marks

    @property
    def learners(self) -> int:
        """Learners who reached full marks."""
        return sum(self.counts.values())

    @property
    def median(self) -> float | None:
        """The median number of attempts among those who got there."""
        values = sorted(n for n, c in self.counts.items() for _ in range(c))
        if not values:
            return None
        middle = len(values) // 2
        if len(values) % 2:
            return float(values[middle])
        return (values[middle - 1] + values[middle]) / 2


def attempts_to_full_marks(records: list[SubmissionRecord]) -> AttemptsToFullMarks:
    """Count each learner's own attempts (regrades aside) up to the first with full marks."""
    by_learner: dict[str, list[SubmissionRecord]] = {}
    for record in sorted(records, key=lambda r: r.created_at):
        if regrade_of(record) is None:
            by_learner.setdefault(record.learner, []).append(record)
    counts: Counter[int] = Counter()
    not_yet = 0
    for own in by_learner.values():
        first = next((i for i, r in enumerate(own, 1) if r.status == "graded" and r.passed), None)
        if first is None:
            not_yet += 1
        else:
            counts[first] += 1
    return AttemptsToFullMarks(dict(sorted(counts.items())), not_yet)


MAX_TAMPERING_LOOKUPS = 2000  # verdicts read per page view when looking for tampering


@dataclass(frozen=True)
class TamperingReport:
    """A submission whose run was stopped for tampering: who, when, and which event."""

    submission: str
    learner: str
    when: float | None
    event: str


def tampering_reports(records: list[SubmissionRecord],
                      verdict_of: Callable[[str], Verdict | None]) -> list[TamperingReport]:
    """The newest graded submissions among ``records`` that were stopped for tampering, newest
    first (``verdict_of`` is the store's ``get_result``)."""
    graded = [r for r in records if r.status == "graded"][-MAX_TAMPERING_LOOKUPS:]
    found = []
    for record in graded:
        verdict = verdict_of(record.id)
        if verdict is not None and verdict.status == "tampering":
            found.append(TamperingReport(record.id, record.learner, record.finished_at,
                                         verdict.tampering or "(not recorded)"))
    return found[::-1]
