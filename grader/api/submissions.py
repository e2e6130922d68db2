"""``POST /api/v1/submissions`` and ``GET /api/v1/submissions/<id>``."""

from __future__ import annotations

import io
import logging
from urllib.parse import urlsplit

from flask import current_app, url_for
from spectree import Response
from werkzeug.datastructures import FileStorage

from common.callback_policy import CallbackRefused, check_callback_url, parse_networks
from common.records import SubmissionRecord, TokenRecord
from common.submission import (
    SubmissionError,
    SubmissionTooLarge,
    UnsupportedUpload,
    read_submission,
)
from grader.api.blueprint import bp
from grader.api.models import (
    CallbackView,
    ErrorBody,
    IdempotencyHeaders,
    SubmissionAccepted,
    SubmissionIn,
    SubmissionUpload,
    SubmissionView,
    WaitQuery,
)
from grader.api.spec import api_spec, validated
from grader.auth import authenticate, may_act_for, require
from grader.catalogue import get_catalogue
from grader.errors import ApiError
from grader.intake import IdempotencyConflict, QueueUnavailable, accept
from grader.limits import learner_key, limiter, submit_limit
from grader.polls import TooManyPolls, long_poll
from grader.storage import get_store
from grader.waiting import get_waiters, wait_until

logger = logging.getLogger(__name__)
ERRORS = {f"HTTP_{code}": ErrorBody for code in (400, 401, 403, 404, 409, 413, 415, 429)}


def _learner_for(token: TokenRecord, named: str | None) -> str:
    if token.role == "learner":
        if named is not None and named != token.learner:
            raise ApiError(403, "a learner token can only submit for its own learner")
        if not token.learner:
            raise ApiError(403, "this learner token is not bound to a learner")
        return token.learner
    if named is None:
        raise ApiError(422, "name the learner this submission is for ('learner')")
    return named


def _source(json: SubmissionIn | None, form: SubmissionUpload | None) -> tuple[str, str | None]:
    max_bytes = int(current_app.config["SUBMISSION_MAX_BYTES"])
    try:
        if json is not None:
            return read_submission(json.code, None, None, max_bytes)
        assert form is not None
        # A form field named "file" that is not a file reads as an empty file with no name.
        upload = form.file if isinstance(form.file, FileStorage) else FileStorage(io.BytesIO())
        return read_submission(None, upload.stream, upload.filename or "", max_bytes)
    except SubmissionTooLarge as exc:
        raise ApiError(413, str(exc)) from exc
    except UnsupportedUpload as exc:
        raise ApiError(415, str(exc)) from exc
    except SubmissionError as exc:
        raise ApiError(422, str(exc), code="invalid_submission") from exc


def _check_callback(token: TokenRecord, url: str | None) -> None:
    """Callbacks are for instructor and LMS tokens, to hosts the policy allows (the resolved
    addresses are checked again when the callback is sent: DNS can change)."""
    if url is None:
        return
    if token.role not in ("instructor", "lms"):
        raise ApiError(403, "only instructor and LMS tokens may set callback_url")
    allowed = {h.strip().lower() for h in
               str(current_app.config["CALLBACK_ALLOWED_HOSTS"]).split(",") if h.strip()}
    if allowed and (urlsplit(url).hostname or "").lower() not in allowed:
        raise ApiError(422, "callback_url names a host this grader does not call back")
    try:
        check_callback_url(url, parse_networks(str(
            current_app.config["CALLBACK_ALLOWED_NETWORKS"])))
    except CallbackRefused as exc:
        raise ApiError(422, str(exc), code="callback_refused") from exc


@bp.post("/submissions")
@limiter.limit(submit_limit, key_func=learner_key, override_defaults=False)
@require("learner", "lms", "instructor")
@api_spec.validate(json=SubmissionIn, form=SubmissionUpload, headers=IdempotencyHeaders,
                   resp=Response(HTTP_202=SubmissionAccepted, **ERRORS), tags=["submissions"])
def create_submission() -> tuple[SubmissionAccepted, int, dict[str, str]]:
    """Submit code for grading.

    JSON ``{exercise, code, learner?, callback_url?}`` or multipart with a ``file`` (``.py`` or
    ``.ipynb``). Answers 202 with the submission's id; poll ``GET /submissions/<id>``. With an
    ``Idempotency-Key`` header, repeating the request returns the same submission.
    """
    token = authenticate()
    json: SubmissionIn | None = validated("json")
    form: SubmissionUpload | None = validated("form")
    headers: IdempotencyHeaders = validated("headers")
    request_model = json or form
    if request_model is None:
        raise ApiError(422, "send the submission as JSON or as multipart form data")
    learner = _learner_for(token, request_model.learner)
    exercise = get_catalogue().get(request_model.exercise)
    if exercise is None:
        raise ApiError(404, f"no exercise {request_model.exercise!r}")
    _check_callback(token, request_model.callback_url)
    source, filename = _source(json, form)
    key = headers.idempotency_key
    try:
        received = accept(exercise, learner, source, filename=filename, submitted_by=token.id,
                          callback_url=request_model.callback_url,
                          idempotency=(token.id, key) if key else None)
    except IdempotencyConflict as exc:
        raise ApiError(409, str(exc), code="idempotency_conflict") from exc
    except QueueUnavailable as exc:
        raise ApiError(503, str(exc)) from exc
    extra = {"Idempotent-Replayed": "true"} if received.replayed else {}
    found = received.record
    url = url_for("api.get_submission", submission_id=found.id)
    extra["Location"] = url
    return SubmissionAccepted(id=found.id, status=found.status, exercise=found.exercise,
                              learner=found.learner, url=url), 202, extra


def submission_view(record: SubmissionRecord) -> SubmissionView:
    """The API's view of a record and its verdict."""
    verdict = get_store().get_result(record.id) if record.status == "graded" else None
    callback = None
    if record.callback_url:
        callback = CallbackView(url=record.callback_url, status=record.callback_status,
                                attempts=record.callback_attempts, error=record.callback_error)
    return SubmissionView(
        id=record.id, exercise=record.exercise, learner=record.learner, status=record.status,
        score=record.score, max_score=record.max_score, passed=record.passed,
        created_at=record.created_at, finished_at=record.finished_at, queue=record.queue,
        attempts=record.attempts, started_at=record.started_at,
        content_hash=record.content_hash,
        error=record.error or (verdict.error if verdict else None),
        checks=verdict.checks if verdict else [], cases=verdict.cases if verdict else [],
        stdout=verdict.stdout if verdict else "", notices=verdict.notices if verdict else [],
        callback=callback, verdict=verdict.status if verdict else None,
        tampering=verdict.tampering if verdict else None,
    )


@bp.get("/submissions/<submission_id>")
@require("learner", "lms", "instructor")
@api_spec.validate(query=WaitQuery, resp=Response(HTTP_200=SubmissionView, **ERRORS),
                   tags=["submissions"])
def get_submission(submission_id: str) -> SubmissionView:
    """A submission's status, and once graded its score, per-check results and output.

    ``?wait=S`` holds the request up to S seconds (at most ``MAX_WAIT_S``) until the
    submission is graded or failed.
    """
    token = authenticate()
    query: WaitQuery = validated("query")
    store = get_store()
    record = store.get_submission(submission_id) if len(submission_id) <= 64 else None
    if record is None or not may_act_for(token, record.learner):
        raise ApiError(404, f"no submission {submission_id!r}")
    wait_s = min(query.wait, float(current_app.config["MAX_WAIT_S"]))
    if wait_s <= 0 or record.finished:
        return submission_view(record)
    cap = int(current_app.config["MAX_POLLS_PER_TOKEN"])
    try:
        with long_poll(store, token.id, cap, wait_s + 5):
            # Sleeps until the worker announces the result (no thread held under gevent).
            record = wait_until(store, get_waiters(), submission_id, wait_s,
                                lambda r: r.finished) or record
    except TooManyPolls as exc:
        raise ApiError(429, f"{exc}; wait for one to end, or poll without ?wait=",
                       headers={"Retry-After": "1"}) from exc
    return submission_view(record)
