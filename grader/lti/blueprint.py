"""The LTI blueprint (``/lti/...``) and its error page."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)
bp = Blueprint("lti", __name__, url_prefix="/lti")


def refuse(status: int, message: str, title: str = "LTI launch refused") -> tuple[str, int]:
    """The error page for the LMS's administrator (and the learner who sees it)."""
    return render_template("lti/error.html", status=status, title=title, message=message), status


def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    return refuse(status, exc.description or exc.name, exc.name)


def _crash(exc: Exception) -> tuple[str, int]:
    if current_app.testing:
        raise exc
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return refuse(500, "the grader failed on this request; this is not your fault. Try again "
                       "in a moment.", "Something went wrong")


bp.register_error_handler(HTTPException, _http_error)
bp.register_error_handler(Exception, _crash)
