"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.cli import make_runner
from worker.config import WorkerConfig
from worker.pipeline import Pipeline
from worker.spec import ExerciseLibrary

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_COURSE = ROOT / "tests" / "fixtures" / "course"


@pytest.fixture(scope="session")
def tiny_pipeline() -> Pipeline:
    """The pipeline over the two-case test course, with the configured (default) runner."""
    return Pipeline(ExerciseLibrary(FIXTURE_COURSE), make_runner(WorkerConfig.from_env().runner))
