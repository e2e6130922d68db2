"""Installing an exercise, for the REST API and the instructors' pages alike: the bundle checked
here, validated on a worker exactly like ``grader exercises validate``, and made live only if
it passes.

Raises domain errors (subclasses of :class:`InstallError`); the API maps them to JSON answers
(``grader/api/exercises.py``) and the pages to HTML (``grader/pages/teach.py``), as
:mod:`grader.intake` does for submissions.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from common.contract import VALIDATE_TASK, queue_for_device
from common.records import (
    MAX_BUNDLE_BYTES,
    SLUG_PATTERN,
    ExerciseBundle,
    ExerciseInfo,
    StoredExercise,
    ValidationOutcome,
)
from common.spec import ExerciseError, ExerciseLibrary
from grader.catalogue import get_catalogue
from grader.dispatch import get_dispatcher
from grader.storage import get_store


class InstallError(Exception):
    """An exercise could not be installed (the message says why, for the instructor)."""


class InvalidSlug(InstallError):
    """The slug is not lowercase words joined by hyphens."""


class InvalidBundle(InstallError):
    """The bundle's files are not an exercise folder (paths, names, sizes)."""


class BundleTooLarge(InstallError):
    """The bundle is over :data:`common.records.MAX_BUNDLE_BYTES`."""


class InvalidExercise(InstallError):
    """The exercise's files are malformed; ``problems`` locates each mistake (``file`` named
    as in the upload, ``line``, ``column``, ``field``, ``message``, ``code``)."""

    def __init__(self, message: str, problems: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.problems = problems


class ExerciseBusy(InstallError):
    """Another upload of the same slug is being validated."""


class ValidationFailed(InstallError):
    """The worker's validation refused the exercise; ``report`` says why."""

    def __init__(self, message: str, report: ValidationOutcome) -> None:
        super().__init__(message)
        self.report = report


class ValidationTimeout(InstallError):
    """No worker validated the exercise in time."""


@dataclass(frozen=True)
class Installed:
    """The exercise as now live, whether it is new, and the report that let it in."""

    info: ExerciseInfo
    created: bool
    report: ValidationOutcome


def install(slug: str, files: dict[str, str], reference: str, uploaded_by: str) -> Installed:
    """Check a bundle (the folder's files by relative path and the reference's source),
    validate it on a worker and, if it passes, make it live."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidSlug("a slug is 1-100 lowercase letters and digits joined by single "
                          "hyphens")
    bundle, info = _checked(slug, files, reference)
    store = get_store()
    timeout_s = float(current_app.config["VALIDATION_TIMEOUT_S"])
    if not store.lock_exercise(slug, int(timeout_s) + 60):
        raise ExerciseBusy(f"exercise {slug!r} is already being validated; try again shortly")
    try:
        upload_id = store.stage_upload(bundle, int(timeout_s) + 3600)
        get_dispatcher().send(VALIDATE_TASK, upload_id, queue_for_device(info.device))
        report = _wait_for_report(upload_id, timeout_s)
        if not report.ok:
            raise ValidationFailed(f"exercise {slug!r} failed validation: "
                                   f"{'; '.join(report.problems[:3])}", report)
        created = get_catalogue().get(slug) is None
        store.put_exercise(StoredExercise(info=info, bundle=bundle, uploaded_at=time.time(),
                                          uploaded_by=uploaded_by))
    finally:
        store.unlock_exercise(slug)
    return Installed(info=info, created=created, report=report)


def _checked(slug: str, files: dict[str, str], reference: str) -> tuple[
    ExerciseBundle, ExerciseInfo
]:
    """The bundle and what the web shows of it, once its files load as an exercise here
    (check names, generator specs; the checks' arguments are bound on the worker)."""
    try:
        bundle = ExerciseBundle(slug=slug, files=files, reference=reference)
    except ValueError as exc:
        raise InvalidBundle(f"the bundle is not valid: {exc}") from exc
    if bundle.size() > MAX_BUNDLE_BYTES:
        raise BundleTooLarge(f"the bundle is larger than {MAX_BUNDLE_BYTES // 2**20} MB")
    with tempfile.TemporaryDirectory(prefix="grader-bundle-") as tmp:
        try:
            exercise = ExerciseLibrary(bundle.write_course(Path(tmp))).load(slug)
        except ExerciseError as exc:
            problems = [_relative(p.as_dict(), tmp, slug) for p in exc.problems]
            message = str(exc).replace(f"{tmp}/exercises/{slug}/", "").replace(f"{tmp}/", "")
            count = f"{len(problems)} problems: " if len(problems) > 1 else ""
            raise InvalidExercise(f"the exercise is not valid: {count}{message}",
                                  problems) from exc
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
    raise ValidationTimeout(f"no worker validated the exercise within {timeout_s:g} s; is a "
                            "worker for its queue running?")
