"""Fixtures of the LTI tests: the grader as it is deployed (``grader serve`` on the session's
private redis-server: gunicorn and a Celery worker) and the test LMS of
:mod:`tests.lti.platform` (``lti1p3platform`` over real HTTP), all on 127.0.0.1.

The course is a copy of the service tests' one-case course, so a test may change its reference
solution (to regrade).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from unittest import mock

import pytest
import requests

from common.store import Store
from grader.cli import run_service
from grader.processes import free_port
from tests.conftest import console_script, stop_process_groups, wait_for
from tests.lti.platform import INSTRUCTOR, LEARNER, Lms

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "tests" / "service" / "course"
PREFIX = "ltitest"
START_TIMEOUT_S = 120



def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


@dataclass
class Grader:
    """The running grader: URL, store, environment, course folder and processes."""

    base_url: str
    store: Store
    env: dict[str, str]
    course: Path
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``grader ARGS`` (a service command: ``lti ...``) with the grader's environment,
        in this process: the command's own code, without an interpreter start per call."""
        out, err = io.StringIO(), io.StringIO()
        with (mock.patch.dict(os.environ, self.env, clear=True), redirect_stdout(out),
              redirect_stderr(err)):
            try:
                code = run_service(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = int(exc.code or 0)
        return subprocess.CompletedProcess(["grader", *args], code, out.getvalue(),
                                           err.getvalue())

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def start(self, name: str, command: list[str]) -> None:
        with (self.logs / f"{name}.log").open("ab") as output:
            self.processes[name] = subprocess.Popen(
                command, env=self.env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"the {name} process exited:\n{self.log(name)}")


@pytest.fixture(scope="session")
def grader(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grader]:
    """``grader serve`` (web app and worker) on the session's Redis (under the key prefix
    ``ltitest``), for the session."""
    tmp = tmp_path_factory.mktemp("lti")
    course = tmp / "course"
    shutil.copytree(COURSE, course)
    web_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update({
        "GRADER_REDIS_URL": redis_url, "GRADER_KEY_PREFIX": PREFIX,
        "GRADER_EXERCISES_DIR": str(course), "GRADER_SECRET_KEY": "lti-tests-secret",
        "GRADER_SUBMIT_RATE_LIMIT": "1000 per minute",
        "GRADER_LTI_LOGIN_RATE_LIMIT": "1000 per minute", "GRADER_CATALOGUE_TTL_S": "0.2",
        "GRADER_HEARTBEAT_S": "1", "GRADER_CACHE_DIR": str(tmp / "cache"),
        "GRADER_CALLBACK_RETRIES": "30", "GRADER_CALLBACK_BACKOFF_S": "0.3",
        "GRADER_CALLBACK_BACKOFF_MAX_S": "1", "GRADER_CALLBACK_TIMEOUT_S": "5",
        "GRADER_MODE": "development",  # the test Redis has no password
        "GRADER_CALLBACK_SECRET": "lti-tests-callback-secret",
        "PYTHONUNBUFFERED": "1",
    })
    service = Grader(f"http://127.0.0.1:{web_port}", Store.from_url(redis_url, PREFIX), env,
                     course, tmp)
    try:
        # `grader serve` on the private Redis: the web app under gunicorn and a worker of
        # every queue (callbacks included), as an instructor would run them.
        service.start("serve", [console_script("grader"), "serve", "--host", "127.0.0.1",
                                "--port", str(web_port), "--data", str(tmp / "data"),
                                "--concurrency", "1"])

        def ready() -> bool:
            service.check_alive()
            return bool(service.store.workers()) and _answers(f"{service.base_url}/healthz")

        wait_for(ready, START_TIMEOUT_S, "the worker's heartbeat and the web app", 0.3)
        yield service
    finally:
        stop_process_groups([p for name, p in service.processes.items() if name == "serve"], 30)


def make_platform(grader: Grader, browser_host: str | None = None) -> Lms:
    """A started test LMS with a teacher and two learners, registered with the grader."""
    platform = Lms(grader.base_url, browser_host=browser_host).start()
    platform.add_user("teacher-1", "Tess Teacher", INSTRUCTOR)
    platform.add_user("learner-1", "Lea Learner", LEARNER)
    platform.add_user("learner-2", "Leo Learner", LEARNER)
    done = grader.cli("lti", "register", *platform.registration_args())
    assert done.returncode == 0, done.stderr
    return platform


@pytest.fixture(scope="session")
def platform(grader: Grader) -> Iterator[Lms]:
    """The test LMS for the session, registered with the grader."""
    lms = make_platform(grader)
    yield lms
    lms.stop()


class BrowserSession(requests.Session):
    """A cookie-keeping HTTP client that, like Chromium, treats 127.0.0.1 as a secure context:
    Python's cookie jar keeps ``Secure`` cookies to itself over http, and requests builds each
    request's cookies from a jar with the default policy, so the header is made again here."""

    def __init__(self) -> None:
        super().__init__()
        self.cookies.set_policy(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        prepared.headers.pop("Cookie", None)
        prepared.prepare_cookies(self.cookies)
        return prepared


def browser_session() -> requests.Session:
    """A fresh browser-like client (its own cookies)."""
    return BrowserSession()


_FORM = re.compile(r'<form([^>]*)action="([^"]+)"([^>]*)>(.*?)</form>', re.S)
_INPUT = re.compile(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"')


def form_of(page: str, marker: str = "") -> tuple[str, dict[str, str]]:
    """The action and fields of the first form of a page whose tag holds ``marker``."""
    import html

    for match in _FORM.finditer(page):
        if marker in match.group(1) + match.group(3):
            fields = {html.unescape(k): html.unescape(v)
                      for k, v in _INPUT.findall(match.group(4))}
            return html.unescape(match.group(2)), fields
    raise AssertionError(f"no form with {marker!r} in:\n{page[:3000]}")
