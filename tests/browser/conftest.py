"""Fixtures of the browser tests: the whole service as it is deployed (a ``grader worker`` and
``grader web`` under gunicorn, on the session's private redis-server), driven through Debian's
Chromium by Playwright.

Playwright's own browser download is not used: the tests launch ``/usr/bin/chromium`` (or
``GRADER_TEST_CHROMIUM``) with ``executable_path``; as root, Chromium needs ``--no-sandbox``.
Screenshots of the main pages are written to ``artifacts/screenshots/`` for review.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from common.store import Store
from grader.accounts import AccountStore
from tests.conftest import stop_process_groups, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "correct horse battery"
PREFIX = "browser"
CHROMIUM = os.environ.get("GRADER_TEST_CHROMIUM", "/usr/bin/chromium")
START_TIMEOUT_S = 120
GRADING_TIMEOUT_MS = 180_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])



@dataclass
class Service:
    """The running service: its URL, its store, and the processes behind them."""

    base_url: str
    redis_url: str
    store: Store
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def accounts(self) -> AccountStore:
        return AccountStore(self.store)

    def account(self, username: str, role: str = "learner", name: str = "") -> str:
        """Create an account (once) with the shared test password; returns the username."""
        if self.accounts.get(username) is None:
            self.accounts.create(username, PASSWORD, role, name or username.title())  # type: ignore[arg-type]
        return username

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"the {name} process exited:\n{self.log(name)}")


def _start(service: Service, name: str, command: list[str], env: dict[str, str]) -> None:
    with (service.logs / f"{name}.log").open("ab") as output:
        service.processes[name] = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def service(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One worker and the web app on the session's Redis (under the key prefix ``browser``),
    started for the session and stopped after it."""
    tmp = tmp_path_factory.mktemp("service")
    web_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update({
        "GRADER_REDIS_URL": redis_url,
        "GRADER_KEY_PREFIX": PREFIX,
        "GRADER_SECRET_KEY": "browser-tests-secret",
        "GRADER_MODE": "development",  # the test Redis has no password
        "GRADER_SUBMIT_RATE_LIMIT": "1000 per minute",
        "GRADER_VALIDATION_TIMEOUT_S": "300",
        "GRADER_HEARTBEAT_S": "1",
        "GRADER_CACHE_DIR": str(tmp / "cache"),
        "PYTHONUNBUFFERED": "1",
    })
    service = Service(f"http://127.0.0.1:{web_port}", redis_url,
                      Store.from_url(redis_url, PREFIX), tmp)
    try:
        _start(service, "worker", [sys.executable, "-m", "grader.cli", "worker", "--queues",
                                   "cpu,gpu", "--concurrency", "1", "--loglevel", "info"], env)
        _start(service, "web", [sys.executable, "-m", "grader.cli", "web", "--port",
                                str(web_port), "--workers", "1", "--threads", "8"], env)

        def ready() -> bool:
            service.check_alive()
            return bool(service.store.workers()) and _answers(f"{service.base_url}/healthz")

        wait_for(ready, START_TIMEOUT_S, "the worker's heartbeat and the web app")
        yield service
    finally:
        stop_process_groups(list(service.processes.values()), 30)  # both at once


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: scripts/bootstrap installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=[*args, "--disable-dev-shm-usage"])
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser, service: Service) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (separate cookie jars) on the service; closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1440, "height": 1000})
        options.setdefault("accept_downloads", True)
        context = browser.new_context(base_url=service.base_url, **options)
        context.set_default_timeout(30_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the form."""
    page.goto("/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/signin" not in url)


def screenshot(page: Page, name: str, height: int | None = None) -> Path:
    """Save a full-page screenshot (or its top ``height`` pixels) as
    ``artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    viewport = page.viewport_size or {"width": 1440, "height": 1000}
    clip = {"x": 0, "y": 0, "width": viewport["width"], "height": height} if height else None
    page.screenshot(path=str(path), full_page=True, clip=clip)  # type: ignore[arg-type]
    return path
