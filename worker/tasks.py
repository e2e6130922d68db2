"""The Celery tasks: thin, named, given an id, re-reading everything else from Redis.

The web sends them by name (:data:`common.store.GRADE_TASK`...); the work itself is in
:mod:`worker.service`, imported inside each task so that the Celery main process never imports
torch (each pool child does, on its first task).
"""

from __future__ import annotations

from typing import Any

import redis

from common.contract import CALLBACK_QUEUE, CALLBACK_TASK, GRADE_TASK, VALIDATE_TASK
from common.lti.passback import LTI_SCORE_TASK
from worker.celery_app import app, settings, worker_identity


def _send_callback(submission_id: str) -> None:
    app.send_task(CALLBACK_TASK, args=[submission_id], queue=CALLBACK_QUEUE,
                  exchange=CALLBACK_QUEUE, routing_key=CALLBACK_QUEUE)


def _send_score(argument: str) -> None:
    app.send_task(LTI_SCORE_TASK, args=[argument], queue=CALLBACK_QUEUE,
                  exchange=CALLBACK_QUEUE, routing_key=CALLBACK_QUEUE)


@app.task(name=GRADE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
          autoretry_for=(redis.ConnectionError, redis.TimeoutError), retry_backoff=True,
          max_retries=20)
def grade_submission(self: Any, submission_id: str) -> str:
    """Grade one submission and record the verdict (once, however often delivered)."""
    from worker import service

    return service.grade(service.runtime(settings), submission_id,
                         worker_identity(self.request.hostname), _send_callback, _send_score)


@app.task(name=VALIDATE_TASK, acks_late=True, reject_on_worker_lost=True)
def validate_exercise(upload_id: str) -> bool | None:
    """Validate an uploaded exercise bundle; the web waits for the report."""
    from worker import service

    outcome = service.validate_upload(service.runtime(settings), upload_id)
    return None if outcome is None else outcome.ok


@app.task(name=CALLBACK_TASK, bind=True, acks_late=True, max_retries=None,
          soft_time_limit=120, time_limit=150)
def send_callback(self: Any, submission_id: str) -> str:
    """POST a finished submission to its callback URL, retrying with backoff."""
    from worker import service

    rt = service.runtime(settings)
    outcome, message = service.post_callback(rt, submission_id, self.request.retries + 1)
    if outcome == "retry":
        raise self.retry(countdown=service.callback_backoff(settings, self.request.retries))
    return f"{outcome}: {message}" if message else outcome


@app.task(name=LTI_SCORE_TASK, bind=True, acks_late=True, max_retries=None,
          soft_time_limit=120, time_limit=150)
def post_lti_score(self: Any, argument: str) -> str:
    """Post a learner's score for an exercise to the LTI platform's gradebook (argument
    ``<learner>:<slug>``), retrying with the callbacks' backoff."""
    from common.lti import passback
    from worker import service

    rt = service.runtime(settings)
    outcome, message = passback.post_scores(rt.store, argument, self.request.retries + 1,
                                            settings.callback_retries,
                                            settings.callback_timeout_s)
    if outcome == "retry":
        raise self.retry(countdown=service.callback_backoff(settings, self.request.retries))
    return f"{outcome}: {message}" if message else outcome
