"""Posting learners' scores to the platform's gradebook (LTI Assignment and Grade Services).

When a submission of a learner who came from an LTI launch finishes, the worker queues
:data:`LTI_SCORE_TASK` on the ``callbacks`` queue with ``<learner>:<exercise>``. The task
computes the score that the course's policy asks for *at the time it runs* (so tasks that run
out of order still post the right score), and posts it to every line item the learner's launches
named. Each line item's state (pending, delivered, failed, with the error) is kept for the
instructor page; a failed post is retried with backoff and, past the last retry, stays
``failed`` until an instructor retries it or the learner's next grading posts again.

Scores: ``best`` is the highest score of the learner's submissions, ``latest`` the score of the
newest; a regraded submission counts with its newest grading (``submitted_by`` is
``regrade:<original id>``). ``activityProgress`` is ``Completed`` and ``gradingProgress``
``FullyGraded`` once a grading counts; when every grading failed (the grader could not grade),
``Submitted``/``Failed`` without a score.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem

from common.lti.keys import ToolKeys
from common.lti.models import (
    AGS_LINEITEM_SCOPE,
    AGS_SCORE_SCOPE,
    GradeTarget,
    PassbackState,
    ScorePolicy,
)
from common.lti.services import CachedConnector
from common.lti.store import LtiStore
from common.records import SubmissionRecord
from common.store import Store

logger = logging.getLogger(__name__)

LTI_SCORE_TASK = "grader.lti_post_score"
PassbackOutcome = Literal["delivered", "retry", "failed", "skipped"]


@dataclass(frozen=True)
class ScoreChoice:
    """The score to post and the submission it comes from."""

    submission_id: str
    score: float | None
    max_score: float | None
    graded: bool


def task_argument(learner: str, slug: str) -> str:
    """The task's argument (learner ids and slugs hold no colon)."""
    return f"{learner}:{slug}"


def _original(record: SubmissionRecord) -> str:
    by = record.submitted_by or ""
    return by.removeprefix("regrade:") if by.startswith("regrade:") else record.id


def choose_score(records: list[SubmissionRecord], policy: ScorePolicy) -> ScoreChoice | None:
    """The score a course's policy posts, from a learner's submissions of one exercise."""
    newest: dict[str, SubmissionRecord] = {}
    first_seen: dict[str, float] = {}
    for record in sorted(records, key=lambda r: r.created_at):
        original = _original(record)
        first_seen.setdefault(original, record.created_at)
        newest[original] = record
    finished = [r for r in newest.values() if r.finished]
    graded = [r for r in finished if r.status == "graded" and r.score is not None]
    if not graded:
        if not finished:
            return None
        last = max(finished, key=lambda r: r.finished_at or 0.0)
        return ScoreChoice(last.id, None, None, graded=False)
    if policy == "latest":
        chosen = max(graded, key=lambda r: first_seen[_original(r)])
    else:
        chosen = max(graded, key=lambda r: (r.score or 0.0, r.finished_at or 0.0))
    return ScoreChoice(chosen.id, chosen.score, chosen.max_score, graded=True)


def queue_scores(store: Store, record: SubmissionRecord, send: Callable[[str], None]) -> bool:
    """After a grading finished: mark its line items pending and queue the post; False when
    the learner never came from an LTI launch for this exercise."""
    lti = LtiStore(store)
    targets = lti.targets(record.learner, record.exercise)
    if not targets:
        return False
    for target in targets:
        lti.set_passback(record.learner, record.exercise, target.key,
                         PassbackState(status="pending", submission_id=record.id))
    send(task_argument(record.learner, record.exercise))
    return True


def build_grade(target: GradeTarget, choice: ScoreChoice) -> Grade:
    """The AGS score for ``choice``."""
    timestamp = datetime.now(UTC).isoformat(timespec="microseconds")
    grade = Grade().set_user_id(target.user_id).set_timestamp(timestamp)
    if choice.graded and choice.score is not None and choice.max_score:
        return (grade.set_score_given(max(0.0, choice.score))
                .set_score_maximum(choice.max_score)
                .set_activity_progress("Completed").set_grading_progress("FullyGraded"))
    return grade.set_activity_progress("Submitted").set_grading_progress("Failed").set_comment(
        "The grader could not grade this submission; it will be graded again.")


def post_one(store: Store, target: GradeTarget, choice: ScoreChoice,
             timeout_s: float) -> None:
    """Post one score; raises LtiException (or a requests error) when the platform refuses."""
    lti = LtiStore(store)
    registration = lti.registration(target.issuer, target.client_id)
    if registration is None:
        raise LtiException(f"the platform {target.issuer} (client {target.client_id}) is no "
                           "longer registered")
    connector = CachedConnector(registration, ToolKeys(store).active(), lti, timeout_s)
    lineitem = target.lineitem or target.resolved
    if lineitem is None:
        lineitem = make_lineitem(connector, target)
        lti.put_target(target.model_copy(update={"resolved": lineitem}))
    # Ask for the score scope only: the least the post needs.
    service = AssignmentsGradesService(connector, {"scope": [AGS_SCORE_SCOPE],
                                                   "lineitem": lineitem})
    service.put_grade(build_grade(target, choice))


def make_lineitem(connector: CachedConnector, target: GradeTarget) -> str:
    """Find the line item the grader made for this resource link, or make it; its URL."""
    assert target.lineitems is not None
    service = AssignmentsGradesService(connector, {
        "scope": [AGS_LINEITEM_SCOPE, AGS_SCORE_SCOPE], "lineitems": target.lineitems})
    wanted = (LineItem().set_tag(target.tag).set_resource_link_id(target.resource_link_id)
              .set_resource_id(target.exercise).set_label(target.label or target.exercise)
              .set_score_maximum(target.score_maximum))
    found = service.find_or_create_lineitem(wanted, condition=lambda item: (
        item.get("resourceLinkId") == target.resource_link_id and item.get("tag") == target.tag))
    url = found.get_id()
    if not url:
        raise LtiException("the platform made a line item without an id")
    return url


def post_scores(store: Store, argument: str, attempt: int, retries: int,
                timeout_s: float) -> tuple[PassbackOutcome, str]:
    """One attempt at posting a learner's score for an exercise to every line item."""
    learner, _, slug = argument.partition(":")
    lti = LtiStore(store)
    targets = lti.targets(learner, slug)
    records = [r for r in store.history(learner, limit=10_000) if r.exercise == slug]
    if not targets or not records:
        return "skipped", "no line item or no submission"
    problems = []
    for target in targets:
        choice = choose_score(records, lti.policy(target.issuer, target.context_id))
        if choice is None:
            continue
        state = PassbackState(status="delivered", attempts=attempt, score=choice.score,
                              max_score=choice.max_score, submission_id=choice.submission_id)
        try:
            post_one(store, target, choice, timeout_s)
        except (LtiException, requests.RequestException) as exc:
            last = attempt > retries
            message = f"{type(exc).__name__}: {exc}"[:500]
            problems.append(message)
            state = state.model_copy(update={"status": "failed" if last else "pending",
                                             "error": message})
            logger.warning("score for %s on %s not posted (attempt %d): %s", argument,
                           target.key, attempt, message)
        lti.set_passback(learner, slug, target.key, state)
    if not problems:
        return "delivered", ""
    return ("failed" if attempt > retries else "retry"), "; ".join(problems)
