"""Fixtures shared by the whole suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Playwright, sync_playwright

from common.spec import ExerciseLibrary
from worker.config import WorkerConfig
from worker.pipeline import Pipeline
from worker.runners import build_runner

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_COURSE = ROOT / "tests" / "fixtures" / "course"


def console_script(name: str) -> str:
    """The console script that this interpreter's installation put beside it (``.venv/bin``):
    the one scripts/bootstrap installed, never whatever of that name is first on ``PATH``."""
    path = Path(sys.executable).parent / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: scripts/bootstrap installs the project into .venv")
    return str(path)


@pytest.fixture(scope="session")
def tiny_pipeline() -> Pipeline:
    """The pipeline over the two-case test course, with the configured (default) runner."""
    return Pipeline(ExerciseLibrary(FIXTURE_COURSE), build_runner(WorkerConfig.from_env()))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """One Playwright for the whole run: its sync API cannot be started twice in a process
    (the browser tests and the LTI tests each launch their own Chromium from it)."""
    with sync_playwright() as p:
        yield p
