"""``GET /api/v1/gradebook.csv``: best score per learner and exercise."""

from __future__ import annotations

from flask import Response as FlaskResponse
from spectree import Response

from grader.api.blueprint import bp
from grader.api.models import ErrorBody
from grader.api.spec import api_spec
from grader.auth import require
from grader.gradebook import gradebook_csv


@bp.get("/gradebook.csv")
@require("instructor")
@api_spec.validate(resp=Response(HTTP_200=None, HTTP_401=ErrorBody, HTTP_403=ErrorBody,
                                 HTTP_429=ErrorBody), tags=["gradebook"])
def gradebook() -> FlaskResponse:
    """The gradebook as CSV: a row per learner, a column per exercise, best scores."""
    return FlaskResponse(gradebook_csv(), mimetype="text/csv",
                         headers={"Content-Disposition": "attachment; filename=gradebook.csv"})
