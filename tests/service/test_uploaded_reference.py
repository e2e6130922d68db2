"""The reference of an uploaded exercise runs in the runner (the sandbox), like learner code,
never in the grading process: an instructor token is not code execution as the worker."""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from pathlib import Path

import pytest

import worker.pipeline as pipeline_module
from common.records import ExerciseBundle
from common.spec import ExerciseLibrary
from tests.service.conftest import CORRECT, COURSE, WRONG, Namespace
from worker.pipeline import GraderError, Pipeline
from worker.validation import validate_exercise

pytestmark = pytest.mark.slow


def uploaded_course(tmp_path: Path, prologue: str) -> ExerciseLibrary:
    """The add-one exercise as an upload whose reference starts with ``prologue``."""
    folder = COURSE / "exercises" / "add-one"
    files = {p.relative_to(folder).as_posix(): p.read_text()
             for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    reference = prologue + (COURSE / "reference" / "add-one.py").read_text()
    bundle = ExerciseBundle(slug="add-one", files=files, reference=reference)
    return ExerciseLibrary(bundle.write_course(tmp_path / "upload"))


def tripwire() -> str:
    """Code that fails when it runs in this (the grading) process."""
    return (f"import os\nif os.getpid() == {os.getpid()}:\n"
            "    raise RuntimeError('the reference ran in the grading process')\n")


def test_an_uploaded_reference_is_graded_against_in_the_runner(
    tmp_path: Path, tiny_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch,
) -> None:
    library = uploaded_course(tmp_path, tripwire())
    pipeline = Pipeline(library, tiny_pipeline.runner, sandboxed_reference=True)
    exercise = library.load("add-one")
    right = pipeline.grade(exercise, CORRECT)
    assert right.score == right.max_score
    wrong = pipeline.grade(exercise, WRONG)
    assert wrong.score < wrong.max_score
    # The in-process path (a course folder on disk) would have run it here: the tripwire fires.
    monkeypatch.setattr(pipeline_module, "_EXPECTED_CACHE", OrderedDict())
    with pytest.raises(GraderError, match="ran in the grading process"):
        Pipeline(library, tiny_pipeline.runner).grade(library.load("add-one"), CORRECT)


def test_validating_an_upload_never_imports_its_reference_here(
    tmp_path: Path, tiny_pipeline: Pipeline,
) -> None:
    library = uploaded_course(tmp_path, tripwire())
    pipeline = Pipeline(library, tiny_pipeline.runner, sandboxed_reference=True)
    report = validate_exercise(pipeline, library.load("add-one"))
    assert report.ok, report.problems


def test_an_uploaded_reference_that_fails_to_load_is_an_exercise_problem(
    tmp_path: Path, tiny_pipeline: Pipeline,
) -> None:
    library = uploaded_course(tmp_path, "raise SystemExit('no')\n")
    pipeline = Pipeline(library, tiny_pipeline.runner, sandboxed_reference=True)
    with pytest.raises(GraderError, match="loading the reference failed"):
        pipeline.grade(library.load("add-one"), CORRECT)
    missing = uploaded_course(tmp_path / "m", "")
    reference = missing.reference_path("add-one")
    reference.write_text(reference.read_text().replace("def add_one", "def add_uno"))
    report = validate_exercise(Pipeline(missing, tiny_pipeline.runner, sandboxed_reference=True),
                               missing.load("add-one"))
    assert any("defines no function 'add_one'" in p for p in report.problems)


def test_an_uploaded_reference_cannot_read_the_workers_secrets(service: Namespace) -> None:
    # The attack of the issue: a reference that, on import, copies the worker's environment
    # (callback secret, Redis URL) somewhere its uploader can read. It runs in the sandbox:
    # no secret in its environment, and nothing it writes reaches the host.
    marker = Path(f"/tmp/grader-stolen-{uuid.uuid4().hex}")
    prologue = ("import os\n"
                "try:\n"
                f"    open({str(marker)!r}, 'w').write(repr(dict(os.environ)))\n"
                "except OSError:\n"
                "    pass\n")
    folder = COURSE / "exercises" / "add-one"
    files = {p.relative_to(folder).as_posix(): p.read_text().replace("slug: add-one",
                                                                     "slug: add-stolen")
             for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    reference = prologue + (COURSE / "reference" / "add-one.py").read_text()
    response = service.client.put("/api/v1/exercises/add-stolen", headers=service.headers(),
                                  json={"files": files, "reference": reference})
    assert response.status_code in (201, 422), response.get_json()
    assert not marker.exists(), marker.read_text()[:200]
