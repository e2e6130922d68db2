"""The ``api`` blueprint (``/api/v1``): authentication and body checks common to every route."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.exceptions import BadRequest

from grader.auth import authenticate
from grader.errors import ApiError
from grader.limits import api_limit, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# One budget per token across every API route.
limiter.shared_limit(api_limit, scope="api")(bp)

BODY_TYPES = {"application/json"}
UPLOAD_ENDPOINTS = {"api.create_submission"}


@bp.before_request
def check_request() -> None:
    """401 without a valid token; 415 for a body of the wrong type; 400 for malformed JSON."""
    authenticate()
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    allowed = set(BODY_TYPES)
    if request.endpoint in UPLOAD_ENDPOINTS:
        allowed.add("multipart/form-data")
    if request.mimetype not in allowed:
        raise ApiError(415, f"send the body as {' or '.join(sorted(allowed))} "
                            f"(got {request.mimetype or 'no content type'})")
    if request.mimetype == "application/json":
        try:
            request.get_json()
        except BadRequest as exc:
            raise ApiError(400, f"the body is not valid JSON{_reason(exc)}",
                           code="bad_json") from exc


def _reason(exc: BaseException) -> str:
    # Flask hides the parser's ValueError behind a plain BadRequest: find it for the message.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ValueError):
            return f": {seen}"
        seen = seen.__cause__ or seen.__context__
    return ""
