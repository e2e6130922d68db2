"""``/api/v1/exercises``: list, show, create or replace (validated on a worker), statistics."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from flask import current_app
from spectree import Response

from common.contract import VALIDATE_TASK, queue_for_device
from common.records import (
    MAX_BUNDLE_BYTES,
    SCORE_BUCKETS,
    SLUG_PATTERN,
    ExerciseBundle,
    ExerciseInfo,
    StoredExercise,
    ValidationOutcome,
)
from common.spec import ExerciseError, ExerciseLibrary
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
from grader.dispatch import get_dispatcher
from grader.errors import ApiError
from grader.gradings import current_stats
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


def _parse_bundle(slug: str, body: ExerciseBundleIn) -> tuple[ExerciseBundle, ExerciseInfo]:
    try:
        bundle = ExerciseBundle(slug=slug, files=body.files, reference=body.reference)
    except ValueError as exc:
        raise ApiError(422, f"the bundle is not valid: {exc}", code="invalid_bundle") from exc
    if bundle.size() > MAX_BUNDLE_BYTES:
        raise ApiError(413, f"the bundle is larger than {MAX_BUNDLE_BYTES // 2**20} MB")
    with tempfile.TemporaryDirectory(prefix="grader-bundle-") as tmp:
        try:
            exercise = ExerciseLibrary(bundle.write_course(Path(tmp))).load(slug)
        except ExerciseError as exc:
            problems = [_relative(p.as_dict(), tmp, slug) for p in exc.problems]
            message = str(exc).replace(f"{tmp}/exercises/{slug}/", "").replace(f"{tmp}/", "")
            count = f"{len(problems)} problems: " if len(problems) > 1 else ""
            raise ApiError(422, f"the exercise is not valid: {count}{message}",
                           code="invalid_exercise", details={"problems": problems}) from exc
        return bundle, ExerciseInfo.from_exercise(exercise, "upload")


def _relative(problem: dict[str, object], tmp: str, slug: str) -> dict[str, object]:
    """A problem with its file named as in the upload (``exercise.yaml``,
    ``reference/<slug>.py``), not by the temporary folder it was checked in."""
    file = str(problem["file"])
    for prefix in (f"{tmp}/exercises/{slug}/", f"{tmp}/"):
        file = file.removeprefix(prefix)
    return {**problem, "file": file}


def _wait_for_report(upload_id: str, timeout_s: float) -> ValidationOutcome:
    store = get_store()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outcome = store.get_report(upload_id)
        if outcome is not None:
            return outcome
        time.sleep(0.1)
    raise ApiError(504, f"no worker validated the exercise within {timeout_s:g} s; is a worker "
                        "for its queue running?", code="validation_timeout")


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
    saved = install_exercise(slug, body, token.id)
    return saved, 201 if saved.created else 200


def install_exercise(slug: str, body: ExerciseBundleIn, uploaded_by: str) -> ExerciseSaved:
    """Check a bundle, validate it on a worker and, if it passes, make it live; raises
    :class:`ApiError` (422 with the report as ``details`` when validation fails). The API's
    PUT and the instructors' upload page both go through here."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise ApiError(422, "a slug is 1-100 lowercase letters and digits joined by single "
                            "hyphens", code="invalid_slug")
    bundle, info = _parse_bundle(slug, body)
    store = get_store()
    timeout_s = float(current_app.config["VALIDATION_TIMEOUT_S"])
    if not store.lock_exercise(slug, int(timeout_s) + 60):
        raise ApiError(409, f"exercise {slug!r} is already being validated; try again shortly")
    try:
        upload_id = store.stage_upload(bundle, int(timeout_s) + 3600)
        get_dispatcher().send(VALIDATE_TASK, upload_id, queue_for_device(info.device))
        report = _wait_for_report(upload_id, timeout_s)
        if not report.ok:
            raise ApiError(422, f"exercise {slug!r} failed validation: "
                                f"{'; '.join(report.problems[:3])}",
                           code="validation_failed", details=report.model_dump())
        created = get_catalogue().get(slug) is None
        store.put_exercise(StoredExercise(info=info, bundle=bundle, uploaded_at=time.time(),
                                          uploaded_by=uploaded_by))
    finally:
        store.unlock_exercise(slug)
    return ExerciseSaved(exercise=ExerciseDetail.of(info), created=created, validation=report)


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
