"""Moving exercises between a course folder (kept in git) and the service's store (edited on
the web): ``grader exercises export SLUG DIR`` and ``grader exercises import DIR [SLUG...]``.

An exercise uploaded through the web lives only in Redis; exporting it writes the course folder
layout (``DIR/exercises/SLUG/...`` and ``DIR/reference/SLUG.py``) that ``grader --exercises
DIR check SLUG`` and ``validate`` read. Importing validates each exercise exactly as an upload is
validated, then makes it live in the store.
"""

from __future__ import annotations

import time
from pathlib import Path

from common.records import ExerciseBundle, ExerciseInfo, StoredExercise
from common.spec import Exercise, ExerciseLibrary
from common.store import Store
from worker.pipeline import Pipeline
from worker.validation import ValidationReport, validate_exercise


class TransferError(Exception):
    """An exercise cannot be exported or imported; the message says why."""


def bundle_of(library: ExerciseLibrary, exercise: Exercise) -> ExerciseBundle:
    """An exercise of a course folder as a bundle: its folder's text files and reference."""
    files = {}
    for path in sorted(p for p in exercise.folder.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        try:
            files[path.relative_to(exercise.folder).as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise TransferError(f"{path}: not UTF-8 text; a bundle holds text files") from exc
    reference = library.reference_path(exercise.slug).read_text(encoding="utf-8")
    return ExerciseBundle(slug=exercise.slug, files=files, reference=reference)


def export_exercise(slug: str, destination: Path, library: ExerciseLibrary,
                    store: Store | None) -> tuple[Path, str]:
    """Write ``slug`` as a course folder under ``destination``: the uploaded version when the
    store has one, else the course folder's. Returns the exercise's folder and where it came
    from ("the service" or the library's folder)."""
    stored = store.get_exercise(slug) if store is not None else None
    if stored is not None:
        bundle, origin = stored.bundle, "the service"
    elif slug in library:
        bundle, origin = bundle_of(library, library.load(slug)), str(library.exercises_dir)
    else:
        raise TransferError(f"unknown exercise {slug!r}: neither uploaded to the service nor "
                            f"in {library.exercises_dir}")
    bundle.write_course(destination)
    return destination / "exercises" / slug, origin


def import_exercise(pipeline: Pipeline, slug: str, store: Store, uploaded_by: str) -> (
    tuple[ValidationReport, bool]
):
    """Validate ``slug`` of the pipeline's library and, if it passes, make it live in the
    store. Returns the report and whether it went live."""
    library = pipeline.library
    exercise = library.load(slug)
    report = validate_exercise(pipeline, exercise)
    if not report.ok:
        return report, False
    bundle = bundle_of(library, exercise)
    store.put_exercise(StoredExercise(info=ExerciseInfo.from_exercise(exercise, "upload"),
                                      bundle=bundle, uploaded_at=time.time(),
                                      uploaded_by=uploaded_by))
    return report, True
