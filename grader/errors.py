"""Errors of the REST API: one exception type, and handlers that answer
``{"error": {"code": ..., "message": ...}}`` with the matching status.

Pages (outside ``/api/``) keep Flask's HTML error pages.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An error the API answers with: status, a stable code, a message a person can act on."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    """The JSON error body with its status."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/healthz", "/metrics"))


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if not _wants_json():
        return exc
    status = exc.code or 500
    message = exc.description or exc.name
    if status == 429:
        message = f"too many requests: {exc.description}; slow down and retry later"
    response = error_response(status, CODES.get(status, "error"), message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="grader"'
    return response


#: Seconds a client is asked to wait when the store is unreachable.
RETRY_AFTER_S = 10


def store_unavailable(exc: redis.RedisError) -> Response | tuple[str, int, dict[str, str]]:
    """Redis is down or unreachable: 503 with ``Retry-After``, in JSON for the API and as a
    page for the pages; nothing was changed, so trying again later is safe."""
    logger.error("the store is unavailable on %s %s: %s", request.method, request.path, exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    # The page's header would look up the signed-in account in the very store that is down.
    g.grader_account = None
    if _wants_json():
        return error_response(503, "unavailable", "the grader's store is unavailable; try "
                                                  f"again in {RETRY_AFTER_S} s",
                              headers=headers)
    page = render_template("error.html", status=503, title="Unavailable",
                           message="The grader cannot reach its store right now. Nothing was "
                                   "lost; try again in a moment.")
    return page, 503, headers


def _unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "the grader failed; this is not your fault")


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(redis.ConnectionError, store_unavailable)
    app.register_error_handler(redis.TimeoutError, store_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    if not app.testing:
        app.register_error_handler(Exception, _unexpected)
