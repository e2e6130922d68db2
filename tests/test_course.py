"""The shipped course: every exercise validates, and its golden submissions get their verdicts
through ``grader check --json``."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT
from worker.devices import resolve_device
from worker.spec import MODULES, ExerciseLibrary, GoldenSpec

LIBRARY = ExerciseLibrary(ROOT)
GOLDEN = [(e.slug, g) for e in LIBRARY.load_all() for g in e.golden]


@pytest.mark.slow
def test_every_shipped_exercise_validates() -> None:
    out = subprocess.run(["grader", "exercises", "validate"], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    count = len(LIBRARY.slugs())
    assert f"{count} of {count} exercises valid" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("slug, golden", GOLDEN, ids=[f"{s}/{g.file}" for s, g in GOLDEN])
def test_golden_submission_gets_its_verdict(slug: str, golden: GoldenSpec) -> None:
    path = LIBRARY.exercises_dir / slug / golden.file
    out = subprocess.run(["grader", "check", slug, str(path), "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    if golden.devices and resolve_device(LIBRARY.load(slug).device) not in golden.devices:
        pytest.skip(f"this verdict is expected only on {', '.join(golden.devices)}")
    verdict = json.loads(out.stdout)
    if golden.expect == "correct":
        assert out.returncode == 0 and verdict["status"] == "passed", out.stdout
        return
    extra_credit = {c.key for c in LIBRARY.load(slug).checks if c.extra_credit}
    if set(golden.fails) <= extra_credit:  # loses only the bonus
        assert out.returncode == 0 and verdict["score"] == verdict["max_score"]
    else:
        assert out.returncode == 1 and verdict["status"] == "failed"
    failed = [c for c in verdict["checks"] if not c["passed"]]
    assert set(golden.fails) <= {c["name"] for c in failed}
    named = {m for c in failed for m in c["misconceptions"]}
    assert set(golden.misconceptions) <= named


def test_exercises_list_is_grouped_in_the_notebooks_order() -> None:
    out = subprocess.run(["grader", "exercises", "list"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    headings = [line for line in out.stdout.splitlines() if not line.startswith(" ")]
    order = [m.title for m in MODULES]
    assert headings == [t for t in order if t in headings]
    assert len(headings) == len({e.module for e in LIBRARY.load_all()})
