"""The shipped course: every exercise validates, and its golden submissions get their verdicts.

The goldens are graded in this process on one pipeline with a warm sandbox (the same code path
as ``grader check``); ``tests/core/test_cli.py`` covers the command itself, once per output
format. Validating an exercise grades its goldens too: the pipeline keeps each verdict, so a
golden's own test reads the verdict its exercise's validation got instead of grading it again
(run alone, it grades it).
"""

from __future__ import annotations

from typing import Any

import pytest

from common.protocol import Verdict
from common.spec import MODULES, Exercise, ExerciseLibrary, GoldenSpec
from common.submission import source_from_upload
from tests.conftest import ROOT
from worker import cli
from worker.config import WorkerConfig
from worker.devices import resolve_device
from worker.pipeline import Pipeline
from worker.runner import Runner
from worker.validation import validate_exercise

LIBRARY = ExerciseLibrary(ROOT)
GOLDEN = [(e.slug, g) for e in LIBRARY.load_all() for g in e.golden]


class RememberingPipeline(Pipeline):
    """A pipeline that grades each (exercise, source) once and then answers with that verdict:
    grading is deterministic (seeded cases), so a second grading would prove nothing new."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verdicts: dict[tuple[str, str], Verdict] = {}

    def grade(self, exercise: Exercise | str, source: str) -> Verdict:
        key = (exercise if isinstance(exercise, str) else exercise.slug, source)
        if key not in self.verdicts:
            self.verdicts[key] = super().grade(exercise, source)
        return self.verdicts[key]


@pytest.fixture(scope="module")
def course_pipeline(course_runner: Runner) -> Pipeline:
    """The shipped course's pipeline on the session's configured runner (the sandbox by
    default)."""
    return RememberingPipeline(LIBRARY, course_runner, WorkerConfig.from_env().gpu_memory_fraction)


@pytest.mark.slow
@pytest.mark.parametrize("slug", LIBRARY.slugs())
def test_every_shipped_exercise_validates(course_pipeline: Pipeline, slug: str) -> None:
    report = validate_exercise(course_pipeline, LIBRARY.load(slug))
    assert report.ok, "\n".join([*report.lines, *report.problems])


@pytest.mark.slow
@pytest.mark.parametrize("slug, golden", GOLDEN, ids=[f"{s}/{g.file}" for s, g in GOLDEN])
def test_golden_submission_gets_its_verdict(course_pipeline: Pipeline, slug: str,
                                            golden: GoldenSpec) -> None:
    if golden.devices and resolve_device(LIBRARY.load(slug).device) not in golden.devices:
        pytest.skip(f"this verdict is expected only on {', '.join(golden.devices)}")
    path = LIBRARY.exercises_dir / slug / golden.file
    verdict = course_pipeline.grade(slug, source_from_upload(path.name, path.read_bytes()))
    report = verdict.model_dump_json(indent=1)
    if golden.expect == "correct":
        assert verdict.status == "passed" and verdict.full_marks, report
        return
    extra_credit = {c.key for c in LIBRARY.load(slug).checks if c.extra_credit}
    if set(golden.fails) <= extra_credit:  # loses only the bonus
        assert verdict.full_marks, report
    else:
        assert verdict.status == "failed" and not verdict.full_marks, report
    failed = [c for c in verdict.checks if not c.passed]
    assert set(golden.fails) <= {c.name for c in failed}, report
    named = {m for c in failed for m in c.misconceptions}
    assert set(golden.misconceptions) <= named, report
    objective = set(LIBRARY.load(slug).objective)
    if objective & {c.name for c in failed}:
        # A submission that misses the exercise's point scores at most half.
        assert verdict.objective_missed and verdict.score <= verdict.max_score / 2, report
    else:
        assert not verdict.objective_missed, report


@pytest.mark.parametrize("slug", LIBRARY.slugs())
def test_every_exercise_names_its_objective_with_a_golden_that_misses_it(slug: str) -> None:
    exercise = LIBRARY.load(slug)
    assert exercise.objective, f"{slug}: no learning objective"
    missing = [g.file for g in exercise.golden
               if g.expect == "wrong" and set(g.fails) & set(exercise.objective)]
    assert missing, f"{slug}: no golden wrong submission fails the objective"


@pytest.mark.parametrize("slug", LIBRARY.slugs())
def test_the_objective_carries_at_least_half_the_weight(slug: str) -> None:
    exercise = LIBRARY.load(slug)
    weights = {spec.key: spec.weight * len(spec.cases or exercise.cases)
               for spec in exercise.checks if not spec.extra_credit}
    share = sum(w for k, w in weights.items() if k in exercise.objective) / sum(weights.values())
    assert share >= 0.5, f"{slug}: the objective carries {share:.0%} of the weight"


def test_exercises_list_is_grouped_in_the_notebooks_order(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In this process (``grader exercises list`` runs this same main); tests/core/test_cli.py
    # runs the command itself.
    monkeypatch.delenv("GRADER_EXERCISES_DIR", raising=False)
    assert cli.main(["exercises", "list"]) == 0
    headings = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")]
    order = [m.title for m in MODULES]
    assert headings == [t for t in order if t in headings]
    assert len(headings) == len({e.module for e in LIBRARY.load_all()})


@pytest.mark.slow
def test_a_timeout_is_told_once_and_later_cases_point_at_it(course_pipeline: Pipeline) -> None:
    verdict = course_pipeline.grade("share-from-numpy",
                                    "def share_from_numpy(arr):\n    while True:\n        pass\n")
    visible = [c for c in verdict.cases if c.visible]
    first, *later = visible
    assert first.status == "timeout" and "did not finish" in first.message
    assert later and all(c.status == "not_run" for c in later)
    assert all(c.message == f"not run: case {first.name} ended the run" for c in later)
    assert verdict.model_dump_json().count("did not finish") <= 3  # the case, the error, hidden
