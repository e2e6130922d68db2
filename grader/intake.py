"""Taking in a submission, for the REST API and the pages alike: one record in the store, one
grading task on the exercise's queue, idempotent retries.

Raises domain errors (:class:`IdempotencyConflict`, :class:`QueueUnavailable`); the API maps
them to JSON answers and the pages to HTML.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from flask import current_app

from common.contract import GRADE_TASK, queue_for_device
from common.records import ExerciseInfo, SubmissionRecord, new_submission_id
from grader.dispatch import get_dispatcher
from grader.storage import get_store

logger = logging.getLogger(__name__)


class IntakeError(Exception):
    """A submission could not be taken in (the message says why, for the submitter)."""


class IdempotencyConflict(IntakeError):
    """The idempotency key was used before for a different submission."""


class QueueUnavailable(IntakeError):
    """The grading queue refused the task; the submission was recorded as failed."""


@dataclass(frozen=True)
class Received:
    """The submission a request stands for, and whether an earlier request created it."""

    record: SubmissionRecord
    replayed: bool


def fingerprint(slug: str, learner: str, source: str, callback_url: str | None) -> str:
    """What makes two requests with one idempotency key the same submission.

    >>> fingerprint("a", "ann", "x = 1", None) == fingerprint("a", "ann", "x = 1", "")
    True
    """
    text = "\x00".join((slug, learner, source, callback_url or ""))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def accept(exercise: ExerciseInfo, learner: str, source: str, *, filename: str | None,
           submitted_by: str, callback_url: str | None = None,
           idempotency: tuple[str, str] | None = None,
           new_attempt_on_conflict: bool = False) -> Received:
    """Record a submission and queue its grading.

    ``idempotency`` is ``(caller, key)``: the same key from the same caller returns the
    submission it created first (and sends its task again if the request that created it died
    before sending it). The same key with other content raises :class:`IdempotencyConflict`,
    or, with ``new_attempt_on_conflict`` (a page's form sent again with other code), makes a
    new submission.
    """
    queue = queue_for_device(exercise.device)
    record = SubmissionRecord(id=new_submission_id(), exercise=exercise.slug, learner=learner,
                              status="queued", queue=queue, filename=filename,
                              submitted_by=submitted_by, callback_url=callback_url)
    triple = None
    if idempotency is not None:
        caller, key = idempotency
        triple = (caller, key[:255], fingerprint(exercise.slug, learner, source, callback_url))
    store = get_store()
    accepted = store.create_submission(record, source, triple,
                                       int(current_app.config["IDEMPOTENCY_TTL_S"]))
    if accepted.created:
        _send(record.id, queue)
        return Received(accepted.record, replayed=False)
    if not accepted.fingerprint_matches:
        if new_attempt_on_conflict:
            return accept(exercise, learner, source, filename=filename,
                          submitted_by=submitted_by, callback_url=callback_url)
        raise IdempotencyConflict("this Idempotency-Key was used for a different submission")
    found = accepted.record
    # The request that created it may have died before sending its task (its client retries
    # because it got no answer): send it now, unless a task already names it.
    if found.status == "queued" and not store.messages_naming([found.id]):
        _send(found.id, found.queue)
    return Received(found, replayed=True)


def _send(submission_id: str, queue: str) -> None:
    try:
        get_dispatcher().send(GRADE_TASK, submission_id, queue)
    except Exception as exc:
        logger.exception("could not queue submission %s", submission_id)
        get_store().finish(submission_id, "failed", error="the grader could not queue this "
                                                          "submission; submit again later")
        raise QueueUnavailable("the grading queue is unavailable; try again later") from exc
