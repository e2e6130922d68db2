"""What the instructors' exercise page says about the submissions: the most common failing
checks with their messages, and how many attempts learners needed before full marks.

Pass rates per check and the score distribution come from the store's counters
(:meth:`common.store.Store.stats`); the rest is read from the learners' histories, newest
submissions first and at most :data:`MAX_VERDICTS` verdicts per page view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from common.protocol import Verdict
from common.store import Store, SubmissionRecord
from grader.pages.attempts import HISTORY_LIMIT, regrade_of
from grader.pages.results import HINT_MARK

MAX_VERDICTS = 2000
MESSAGES_PER_CHECK = 3


def learners_of(store: Store, slug: str, accounts: list[str]) -> list[str]:
    """Learners who may have submitted ``slug``: everyone graded on it, and every account."""
    graded = {learner for learner, exercise in store.gradebook() if exercise == slug}
    return sorted(graded | set(accounts))


def submissions_of(store: Store, slug: str, learners: list[str]) -> list[SubmissionRecord]:
    """Every submission of ``slug`` by these learners, oldest first."""
    records = [r for learner in learners for r in store.history(learner, HISTORY_LIMIT)
               if r.exercise == slug]
    return sorted(records, key=lambda r: r.created_at)


@dataclass
class FailingCheck:
    """A check and how often it failed, with its most frequent messages."""

    name: str
    submissions: int = 0  # graded submissions in which it failed on some case
    messages: Counter[str] = field(default_factory=Counter)

    def top_messages(self) -> list[tuple[str, int]]:
        """The most frequent messages (first line, without hints), most frequent first."""
        return self.messages.most_common(MESSAGES_PER_CHECK)


def failing_checks(verdicts: list[Verdict]) -> list[FailingCheck]:
    """Checks by the number of graded submissions they failed in, most first."""
    found: dict[str, FailingCheck] = {}
    for verdict in verdicts:
        # Each check and message counts once per submission, however many cases it failed.
        failed_here: dict[str, set[str]] = {}
        for check in verdict.checks:
            if check.passed or check.extra_credit:
                continue
            message = check.message.split(HINT_MARK)[0].strip().splitlines()
            failed_here.setdefault(check.name, set()).add(
                message[0][:300] if message else "(no message)")
        for name, messages in failed_here.items():
            entry = found.setdefault(name, FailingCheck(name))
            entry.submissions += 1
            entry.messages.update(messages)
    return sorted(found.values(), key=lambda f: (-f.submissions, f.name))


def verdicts_of(store: Store, records: list[SubmissionRecord]) -> list[Verdict]:
    """The verdicts of the newest graded submissions among ``records``."""
    graded = [r for r in records if r.status == "graded"][-MAX_VERDICTS:]
    verdicts = [store.get_result(r.id) for r in graded]
    return [v for v in verdicts if v is not None]


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
    graded = [r for r in records if r.status == "graded"][-MAX_VERDICTS:]
    found = []
    for record in graded:
        verdict = verdict_of(record.id)
        if verdict is not None and verdict.status == "tampering":
            found.append(TamperingReport(record.id, record.learner, record.finished_at,
                                         verdict.tampering or "(not recorded)"))
    return found[::-1]
