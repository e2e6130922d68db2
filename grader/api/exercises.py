"""``/api/v1/exercises``: list, show, create or replace (validated on a worker), statistics."""

from __future__ import annotations

from spectree import Response

from common.records import SCORE_BUCKETS, ExerciseInfo
from grader.api.blueprint import bp
from grader.api.models import (
    CheckStat,
    ErrorBody,
    ExerciseBundleIn,
    ExerciseDetail,
    ExerciseList,
    ExerciseSaved,
    ExerciseStatsView,
    ExerciseSummary,
    ScoreBucket,
)
from grader.api.spec import api_spec, validated
from grader.auth import authenticate, require
from grader.catalogue import get_catalogue
from grader.errors import ApiError
from grader.gradings import current_stats
from grader.installs import (
    BundleTooLarge,
    ExerciseBusy,
    InstallError,
    InvalidBundle,
    InvalidExercise,
    InvalidSlug,
    ValidationFailed,
    ValidationTimeout,
    install,
)
from grader.storage import get_store

ERRORS = {f"HTTP_{code}": ErrorBody for code in (400, 401, 403, 404, 409, 413, 415, 429)}


def _exercise(slug: str) -> ExerciseInfo:
    info = get_catalogue().get(slug)
    if info is None:
        raise ApiError(404, f"no exercise {slug!r}")
    return info


@bp.get("/exercises")
@require("learner", "lms", "instructor")
@api_spec.validate(resp=Response(HTTP_200=ExerciseList, **ERRORS), tags=["exercises"])
def list_exercises() -> ExerciseList:
    """Every exercise (slug, title, module, points, device), in the course's order."""
    return ExerciseList(exercises=[ExerciseSummary.of(e) for e in get_catalogue().all()])


@bp.get("/exercises/<slug>")
@require("learner", "lms", "instructor")
@api_spec.validate(resp=Response(HTTP_200=ExerciseDetail, **ERRORS), tags=["exercises"])
def get_exercise(slug: str) -> ExerciseDetail:
    """An exercise's statement, starter code and visible cases."""
    return ExerciseDetail.of(_exercise(slug))


@bp.put("/exercises/<slug>")
@require("instructor")
@api_spec.validate(json=ExerciseBundleIn,
                   resp=Response(HTTP_200=ExerciseSaved, HTTP_201=ExerciseSaved,
                                 HTTP_422=ErrorBody, HTTP_504=ErrorBody, **ERRORS),
                   tags=["exercises"])
def put_exercise(slug: str) -> tuple[ExerciseSaved, int]:
    """Create or replace an exercise from a bundle of its files.

    The bundle is checked here, then validated on a worker exactly like ``grader exercises
    validate`` (the reference and golden submissions are graded); an exercise that fails is
    refused with 422 and the report. 201 when created, 200 when replaced.
    """
    token = authenticate()
    body: ExerciseBundleIn = validated("json")
    saved = _install(slug, body, token.id)
    return saved, 201 if saved.created else 200


def _install(slug: str, body: ExerciseBundleIn, uploaded_by: str) -> ExerciseSaved:
    """:func:`grader.installs.install` with its domain errors as the API's answers (422 with
    the located problems or the validation report as ``details``)."""
    try:
        installed = install(slug, body.files, body.reference, uploaded_by)
    except InstallError as exc:
        raise _api_error(exc) from exc
    return ExerciseSaved(exercise=ExerciseDetail.of(installed.info), created=installed.created,
                         validation=installed.report)


def _api_error(exc: InstallError) -> ApiError:
    """The JSON answer to an installation's domain error."""
    if isinstance(exc, InvalidExercise):
        return ApiError(422, str(exc), code="invalid_exercise", details={"problems": exc.problems})
    if isinstance(exc, ValidationFailed):
        return ApiError(422, str(exc), code="validation_failed",
                        details=exc.report.model_dump())
    status, code = {
        InvalidSlug: (422, "invalid_slug"), InvalidBundle: (422, "invalid_bundle"),
        BundleTooLarge: (413, None), ExerciseBusy: (409, None),
        ValidationTimeout: (504, "validation_timeout"),
    }.get(type(exc), (500, None))
    return ApiError(status, str(exc), code=code)


@bp.get("/exercises/<slug>/stats")
@require("instructor")
@api_spec.validate(resp=Response(HTTP_200=ExerciseStatsView, **ERRORS), tags=["exercises"])
def exercise_stats(slug: str) -> ExerciseStatsView:
    """Pass rate per check (a check passes in a submission when it passes on every case) and
    the distribution of scores, over graded submissions, each counted once with its current
    grading (a finished regrade replaces what it regraded)."""
    _exercise(slug)
    stats = current_stats(get_store(), slug)
    scores = [ScoreBucket(low=i / 10, high=(i + 1) / 10, count=c)
              for i, c in enumerate(stats.score_buckets[:SCORE_BUCKETS - 1])]
    scores.append(ScoreBucket(low=1.0, high=1.0, count=stats.score_buckets[-1]))
    return ExerciseStatsView(
        exercise=slug, graded=stats.graded,
        checks=[CheckStat(name=c.name, passed=c.passed, total=c.total,
                          pass_rate=round(c.rate, 4)) for c in stats.checks],
        scores=scores,
    )
