"""``GET /api/v1/learners/<learner>/submissions``: a learner's history."""

from __future__ import annotations

from pydantic import BaseModel
from spectree import Response

from common.records import LEARNER_PATTERN
from grader.api.blueprint import bp
from grader.api.models import ErrorBody, HistoryQuery, SubmissionSummary
from grader.api.spec import api_spec, validated
from grader.auth import authenticate, may_act_for, require
from grader.errors import ApiError
from grader.storage import get_store

ERRORS = {f"HTTP_{code}": ErrorBody for code in (401, 403, 404, 429)}


class History(BaseModel):
    """A learner's submissions, newest first."""

    learner: str
    submissions: list[SubmissionSummary]


@bp.get("/learners/<learner>/submissions")
@require("learner", "lms", "instructor")
@api_spec.validate(query=HistoryQuery, resp=Response(HTTP_200=History, **ERRORS),
                   tags=["learners"])
def learner_history(learner: str) -> History:
    """A learner's submissions, newest first (a learner token sees only its own)."""
    token = authenticate()
    query: HistoryQuery = validated("query")
    if not LEARNER_PATTERN.fullmatch(learner):
        raise ApiError(404, "no such learner: a learner id is 1-128 letters, digits and "
                            ". _ @ + -")
    if not may_act_for(token, learner):
        raise ApiError(403, "a learner token can only read its own learner's history")
    records = get_store().history(learner, query.limit)
    return History(learner=learner, submissions=[SubmissionSummary.of(r) for r in records])
