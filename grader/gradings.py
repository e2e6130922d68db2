"""The current grading of each submission: a regrade replaces its original once it is finished.

Statistics and the gradebook count a learner's own submissions, each once, with the result of its
newest finished grading: a regrade is not a new submission, and a regrade that lowers a score
lowers it in the gradebook too (the best of the current grading, not the best ever).
"""

from __future__ import annotations

from collections.abc import Iterable

from common.protocol import Verdict
from common.records import SCORE_BUCKETS, CheckRate, ExerciseStats, SubmissionRecord, score_bucket
from common.store import Store
from grader.statistics import Statistics

REGRADE_PREFIX = "regrade:"
HISTORY_LIMIT = 1000  # submissions read per learner (as the history pages do)
MAX_VERDICTS = 2000  # verdicts read for one exercise's statistics


def original_of(record: SubmissionRecord) -> str:
    """The id of the learner's own submission this record grades (itself, or the regraded)."""
    by = record.submitted_by or ""
    return by[len(REGRADE_PREFIX):] if by.startswith(REGRADE_PREFIX) else record.id


def current_gradings(records: Iterable[SubmissionRecord]) -> list[SubmissionRecord]:
    """One record per original submission: its newest finished grading (the original itself
    while no regrade of it has finished), oldest original first."""
    newest: dict[str, SubmissionRecord] = {}
    first_seen: dict[str, float] = {}
    for record in sorted(records, key=lambda r: r.created_at):
        original = original_of(record)
        first_seen.setdefault(original, record.created_at)
        if original == record.id:
            newest.setdefault(original, record)
        elif record.finished:  # a regrade still running leaves the earlier grading standing
            newest[original] = record
    return sorted(newest.values(), key=lambda r: first_seen[original_of(r)])


def best_scores(records: Iterable[SubmissionRecord]) -> dict[str, float]:
    """Per exercise, the best score among the current gradings of graded submissions."""
    best: dict[str, float] = {}
    for record in current_gradings(records):
        if record.status == "graded" and record.score is not None:
            best[record.exercise] = max(best.get(record.exercise, record.score), record.score)
    return best


def stats_of(slug: str, verdicts: list[Verdict]) -> ExerciseStats:
    """Pass rate per check (passed on every case of a submission) and the score histogram of
    the current gradings' verdicts."""
    totals: dict[str, list[int]] = {}
    buckets = [0] * SCORE_BUCKETS
    for verdict in verdicts:
        passed: dict[str, bool] = {}
        for check in verdict.checks:
            if not check.extra_credit:
                passed[check.name] = passed.get(check.name, True) and check.passed
        for name, ok in passed.items():
            entry = totals.setdefault(name, [0, 0])
            entry[0] += int(ok)
            entry[1] += 1
        buckets[score_bucket(verdict.score, verdict.max_score)] += 1
    return ExerciseStats(
        exercise=slug, graded=len(verdicts),
        checks=[CheckRate(name=n, passed=p, total=t) for n, (p, t) in sorted(totals.items())],
        score_buckets=buckets,
    )


def course_records(store: Store, learners: Iterable[str], limit: int
                   ) -> tuple[dict[str, list[SubmissionRecord]], set[str]]:
    """Every learner's submissions (newest ``limit`` of each), and the learners whose history
    was longer than that."""
    by_learner: dict[str, list[SubmissionRecord]] = {}
    truncated = set()
    for learner in learners:
        records = store.history(learner, limit)
        by_learner[learner] = records
        if len(records) >= limit:
            truncated.add(learner)
    return by_learner, truncated


def current_gradebook(store: Store, learners: Iterable[str], limit: int
                      ) -> tuple[list[str], dict[tuple[str, str], float]]:
    """The gradebook: every learner given (with or without a submission) and everyone graded,
    and per (learner, exercise) the best score of the current gradings. For a learner whose
    history is longer than ``limit``, an exercise missing from the newest submissions keeps the
    store's best-ever score."""
    stored = Statistics(store).gradebook()
    everyone = sorted(set(learners) | {learner for learner, _ in stored})
    by_learner, truncated = course_records(store, everyone, limit)
    best: dict[tuple[str, str], float] = {}
    for learner, records in by_learner.items():
        for slug, score in best_scores(records).items():
            best[(learner, slug)] = score
    for (learner, slug), score in stored.items():
        if learner in truncated and (learner, slug) not in best:
            best[(learner, slug)] = score
    return everyone, best


def learner_accounts(store: Store) -> list[str]:
    """Every learner account, whether or not it has submitted anything."""
    from grader.accounts import AccountStore  # the accounts live beside the submissions

    return [a.username for a in AccountStore(store).all() if a.role == "learner"]


def learners_of(store: Store, slug: str, accounts: list[str]) -> list[str]:
    """Learners who may have submitted ``slug``: everyone graded on it, and every account."""
    graded = {learner for learner, exercise in Statistics(store).gradebook() if exercise == slug}
    return sorted(graded | set(accounts))


def submissions_of(store: Store, slug: str, learners: list[str]) -> list[SubmissionRecord]:
    """Every submission of ``slug`` by these learners (regrades included), oldest first."""
    records = [r for learner in learners for r in store.history(learner, HISTORY_LIMIT)
               if r.exercise == slug]
    return sorted(records, key=lambda r: r.created_at)


def verdicts_of(store: Store, records: list[SubmissionRecord]) -> list[Verdict]:
    """The verdicts of the current gradings of the newest graded submissions among
    ``records`` (a regrade replaces its original; it is not another submission)."""
    graded = [r for r in current_gradings(records) if r.status == "graded"][-MAX_VERDICTS:]
    verdicts = [store.get_result(r.id) for r in graded]
    return [v for v in verdicts if v is not None]


def current_stats(store: Store, slug: str) -> ExerciseStats:
    """An exercise's statistics over its current gradings (what the pages and the API show)."""
    from grader.accounts import AccountStore

    accounts = [a.username for a in AccountStore(store).all()]
    records = submissions_of(store, slug, learners_of(store, slug, accounts))
    return stats_of(slug, verdicts_of(store, records))
