"""A page's submission: the source read from the editor or an uploaded file, then taken in by
:mod:`grader.intake` (the same path as ``POST /api/v1/submissions``)."""

from __future__ import annotations

from flask import current_app
from werkzeug.datastructures import FileStorage

from common.records import ExerciseInfo, SubmissionRecord
from common.submission import read_submission
from grader.intake import accept


def read_source(code: str | None, upload: FileStorage | None) -> tuple[str, str | None]:
    """The submitted source and its file name: the uploaded file if one was chosen, else the
    editor's text (:func:`common.submission.read_submission`, as the API reads them).
    SubmissionError says what is wrong with either."""
    max_bytes = int(current_app.config["SUBMISSION_MAX_BYTES"])
    if upload is not None and upload.filename:
        return read_submission(None, upload.stream, upload.filename, max_bytes)
    # A browser's form sends the editor's text with CRLF line ends.
    return read_submission((code or "").replace("\r\n", "\n"), None, None, max_bytes)


def enqueue(exercise: ExerciseInfo, learner: str, source: str, filename: str | None,
            submitted_by: str, attempt_key: str | None = None) -> SubmissionRecord:
    """Take in a page's submission (:func:`grader.intake.accept`); the same ``attempt_key``
    from the same learner returns the submission it created first, and the same form sent
    again with other code is a new attempt."""
    idempotency = (f"page:{learner}", attempt_key) if attempt_key else None
    return accept(exercise, learner, source, filename=filename, submitted_by=submitted_by,
                  idempotency=idempotency, new_attempt_on_conflict=True).record
