"""Turning check results into points: weights, the learning objective's cap, extra credit.

- Each check on each case is worth ``points * weight / total weight`` of the regular checks.
- A submission that fails a check of the exercise's learning objective on any case scores at
  most half the points, whatever else it gets right: copying where the exercise is about
  sharing memory is not "mostly right".
- Extra credit is earned only on top of full marks: a submission that fails a regular check
  earns no bonus, even where the extra-credit check itself passed.

Scores are rounded to two decimals where they are reported; sums use the exact shares.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.protocol import CheckResult
from common.spec import Exercise

OBJECTIVE_CAP = 0.5
EXTRA_CREDIT_WITHHELD = "extra credit counts only on top of full marks on the other checks"


@dataclass(frozen=True)
class Score:
    """The points of one submission."""

    score: float  # regular points (capped) plus extra credit, rounded to 2 decimals
    full_marks: bool  # every regular check passed on every case
    objective_missed: list[str]  # objective checks that failed on some case
    extra_credit: float  # bonus earned, rounded to 2 decimals


def score_checks(exercise: Exercise, items: list[tuple[CheckResult, float]]) -> Score:
    """Set each result's ``score`` and ``max_score`` (an extra-credit check's ``max_score`` is
    the bonus it can earn) and return the submission's score."""
    total = sum(w for r, w in items if not r.extra_credit) or 1.0
    full_marks = all(r.passed for r, _ in items if not r.extra_credit)
    regular = extra = 0.0
    for result, weight in items:
        share = exercise.points * weight / total
        result.objective = result.name in exercise.objective
        result.max_score = round(share, 2)
        earned = result.passed and (full_marks or not result.extra_credit)
        result.score = result.max_score if earned else 0.0
        if result.extra_credit:
            extra += share if earned else 0.0
            if result.passed and not earned:
                result.message = EXTRA_CREDIT_WITHHELD
        else:
            regular += share if earned else 0.0
    missed = sorted({r.name for r, _ in items
                     if r.objective and not r.passed and not r.extra_credit},
                    key=exercise.objective.index)
    if full_marks:
        regular = exercise.points  # rounded shares can sum to a hair under the points
    if missed:
        regular = min(regular, exercise.points * OBJECTIVE_CAP)
    return Score(score=round(regular + extra, 2), full_marks=full_marks,
                 objective_missed=missed, extra_credit=round(extra, 2))


def objective_notice(max_score: float, missed: list[str]) -> str:
    """What the learner is told when their submission misses the learning objective (a
    Markdown-ish line: names in backticks)."""
    names = " and ".join(f"`{name}`" for name in missed)
    half = f"{round(max_score * OBJECTIVE_CAP, 2):g}"
    that = "that is" if len(missed) == 1 else "they are part of"
    return (f"Your code fails {names} on some case, and {that} what this exercise teaches, so "
            f"the submission scores at most half the points ({half} of {max_score:g}).")
