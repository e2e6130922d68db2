"""A learner's attempts at one exercise, numbered, and the differences between two of them.

A regrade (see :mod:`grader.pages.regrade`) is filed as a new submission whose
``submitted_by`` is ``regrade:<id of the original>``; it is shown next to the attempt it
regraded, not counted as an attempt of its own.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from common.records import SubmissionRecord
from common.store import Store

REGRADE_PREFIX = "regrade:"
HISTORY_LIMIT = 1000


def regrade_of(record: SubmissionRecord) -> str | None:
    """The id of the submission this one regrades, or None for a learner's own attempt."""
    by = record.submitted_by or ""
    return by[len(REGRADE_PREFIX):] if by.startswith(REGRADE_PREFIX) else None


@dataclass(frozen=True)
class Attempt:
    """One submission of a learner for one exercise, as the history shows it."""

    record: SubmissionRecord
    number: int  # the learner's attempt number (a regrade carries its original's)
    is_regrade: bool


def attempts(store: Store, learner: str, slug: str) -> list[Attempt]:
    """The learner's submissions for ``slug``, oldest first."""
    records = [r for r in store.history(learner, HISTORY_LIMIT) if r.exercise == slug]
    records.sort(key=lambda r: r.created_at)
    numbers: dict[str, int] = {}
    found: list[Attempt] = []
    for record in records:
        original = regrade_of(record)
        if original is None:
            numbers[record.id] = len(numbers) + 1
            found.append(Attempt(record, numbers[record.id], False))
        else:
            found.append(Attempt(record, numbers.get(original, 0), True))
    return found


def best_scores(records: list[SubmissionRecord]) -> dict[str, tuple[float, float]]:
    """Best (score, max score) per exercise over graded submissions."""
    best: dict[str, tuple[float, float]] = {}
    for record in records:
        if record.status != "graded" or record.score is None:
            continue
        current = best.get(record.exercise)
        if current is None or record.score > current[0]:
            best[record.exercise] = (record.score, record.max_score or 0.0)
    return best


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff: its kind, its numbers in the old and new source, its text."""

    kind: Literal["context", "added", "removed", "hunk"]
    old: int | None
    new: int | None
    text: str


def diff(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """The unified diff of two sources, line by line, with line numbers."""
    a, b = old.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        lines.append(DiffLine("hunk", None, None,
                              f"@@ -{first[1] + 1},{last[2] - first[1]} "
                              f"+{first[3] + 1},{last[4] - first[3]} @@"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("context", i + 1, j + 1, a[i])
                             for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
                continue
            if tag in ("replace", "delete"):
                lines.extend(DiffLine("removed", i + 1, None, a[i]) for i in range(i1, i2))
            if tag in ("replace", "insert"):
                lines.extend(DiffLine("added", None, j + 1, b[j]) for j in range(j1, j2))
    return lines
