"""Accepting a submission from a page, the way ``POST /api/v1/submissions`` does: one record
in the store, one grading task on the exercise's queue."""

from __future__ import annotations

import hashlib
import logging

from flask import current_app
from werkzeug.datastructures import FileStorage

from common.contract import GRADE_TASK, queue_for_device
from common.records import ExerciseInfo, SubmissionRecord, new_submission_id
from common.submission import (
    MAX_UPLOAD_BYTES,
    SubmissionError,
    source_from_text,
    source_from_upload,
)
from grader.dispatch import get_dispatcher
from grader.storage import get_store

logger = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The grading queue refused the task; the submission was recorded as failed."""


def read_source(code: str | None, upload: FileStorage | None) -> tuple[str, str | None]:
    """The submitted source and its file name: the uploaded file if one was chosen, else the
    editor's text. SubmissionError says what is wrong with either."""
    max_bytes = int(current_app.config["SUBMISSION_MAX_BYTES"])
    if upload is not None and upload.filename:
        filename = upload.filename
        if not filename.lower().endswith((".py", ".ipynb")):
            raise SubmissionError("upload a .py file or a Jupyter notebook (.ipynb)")
        data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
        source = source_from_upload(filename, data)
        name: str | None = filename[:200]
    else:
        source = source_from_text((code or "").replace("\r\n", "\n"))
        name = None
    if len(source.encode()) > max_bytes:
        raise SubmissionError(f"the code is larger than {max_bytes // 1024} KB")
    return source, name


def enqueue(exercise: ExerciseInfo, learner: str, source: str, filename: str | None,
            submitted_by: str, attempt_key: str | None = None) -> SubmissionRecord:
    """Record a submission and queue its grading; the same ``attempt_key`` from the same
    learner returns the submission it created first."""
    queue = queue_for_device(exercise.device)
    record = SubmissionRecord(id=new_submission_id(), exercise=exercise.slug, learner=learner,
                              status="queued", queue=queue, filename=filename,
                              submitted_by=submitted_by)
    idempotency = None
    if attempt_key:
        fingerprint = hashlib.sha256(f"{exercise.slug}\x00{source}".encode()).hexdigest()[:32]
        idempotency = (f"page:{learner}", attempt_key[:255], fingerprint)
    store = get_store()
    accepted = store.create_submission(record, source, idempotency,
                                       int(current_app.config["IDEMPOTENCY_TTL_S"]))
    if not accepted.created and accepted.fingerprint_matches:
        found = accepted.record
        # The request that created it may have died before sending its task: send it now,
        # unless a task already names it.
        if found.status == "queued" and not store.messages_naming([found.id]):
            _send(found.id, found.queue)
        return found
    if not accepted.created:  # the same form sent again with other code: a new attempt
        return enqueue(exercise, learner, source, filename, submitted_by, None)
    _send(record.id, queue)
    return accepted.record


def _send(submission_id: str, queue: str) -> None:
    try:
        get_dispatcher().send(GRADE_TASK, submission_id, queue)
    except Exception as exc:
        logger.exception("could not queue submission %s", submission_id)
        get_store().finish(submission_id, "failed", error="the grader could not queue this "
                                                          "submission; submit again later")
        raise QueueUnavailable(str(exc)) from exc
