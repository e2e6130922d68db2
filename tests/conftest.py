"""Fixtures shared by the whole suite."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Playwright, sync_playwright

from common.spec import ExerciseLibrary
from common.store import Store
from grader.processes import free_port
from worker import cli as worker_cli
from worker.config import WorkerConfig
from worker.pipeline import Pipeline
from worker.runner import Runner
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
def course_runner() -> Iterator[Runner]:
    """The configured runner (a warm strict sandbox by default), started once for the session
    and shared by the tests that grade the shipped course or the two-case test course (both
    hidden from learner code). The sandbox's own tests (``tests/sandbox``) keep theirs: a
    smaller memory limit and a course of their own."""
    runner = build_runner(WorkerConfig.from_env(), ExerciseLibrary(FIXTURE_COURSE))
    yield runner
    close = getattr(runner, "close", None)
    if close is not None:
        close()


@pytest.fixture(scope="session")
def tiny_pipeline(course_runner: Runner) -> Pipeline:
    """The pipeline over the two-case test course, with the configured (default) runner."""
    return Pipeline(ExerciseLibrary(FIXTURE_COURSE), course_runner)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for the session, on a free port (never the machine's 6379),
    shared by the service, LTI and browser tests: each keeps to a key prefix of its own."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/bootstrap installs it)")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile",
         str(folder / "redis.log")],
    )
    url = f"redis://127.0.0.1:{port}/0"
    probe = Store.from_url(url)
    try:
        wait_for(probe.ping, 10, "redis-server to answer")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """One Playwright for the whole run: its sync API cannot be started twice in a process
    (the browser tests and the LTI tests each launch their own Chromium from it)."""
    with sync_playwright() as p:
        yield p


@dataclass
class Ran:
    """What a command run in this process printed, and its exit status."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               tmp_path: Path) -> Iterator[Any]:
    """Run ``worker.cli.main`` (``grader check`` and ``grader exercises``) here, in
    ``tmp_path``, with no ``GRADER_`` variable set (like the subprocesses' environment); returns
    what it printed and its exit status."""
    for name in [n for n in os.environ if n.startswith("GRADER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, stdin: bytes = b"") -> Ran:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        try:
            code = worker_cli.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    yield run


@pytest.fixture
def borrowed_sandbox(monkeypatch: pytest.MonkeyPatch, course_runner: Runner) -> Runner:
    """Make the command grade on the session's warm runner (instead of starting one of its
    own), and keep it open when the command is done."""
    monkeypatch.setattr(worker_cli, "build_runner", lambda config, library=None: course_runner)
    monkeypatch.setattr(course_runner, "close", lambda: None, raising=False)
    return course_runner


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str,
             interval_s: float = 0.1) -> Any:
    """Poll until ``condition()`` is truthy and return its value; fail the test after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")


def stop_process_groups(processes: list[subprocess.Popen[Any]], timeout_s: float) -> None:
    """SIGTERM the process group of each (all at once, so that they shut down together), then
    wait for each up to ``timeout_s``, SIGKILLing a group that lingers."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        os.killpg(process.pid, signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Run with pytest-xdist (``-n 2``), the tests that share a costly session fixture stay on one
# process (``--dist loadgroup``): the browser tests' service and Chromium, the LTI tests' grader
# serve, the sandbox tests' strict sandbox, the configured runner of the course and CLI tests.
# Every other test goes wherever a process is free.
_GROUPS = {"browser": "browser", "lti": "lti", "sandbox": "sandbox", "core": "course",
           "test_course.py": "course"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(ROOT / "tests").parts
        group = _GROUPS.get(parts[0])
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
