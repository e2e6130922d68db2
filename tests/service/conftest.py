"""Fixtures of the service tests: real Celery worker processes started with ``grader worker``
on the session's redis-server (``redis_url`` in ``tests/conftest.py``: a free port, never the
machine's 6379), and the Flask app over them.

Each group of tests that needs its own workers gets its own key prefix (a namespace): the
prefix covers the store's keys and Celery's queues, so workers of one namespace never take
another's tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.records import SubmissionRecord
from common.store import Store
from grader.app import create_app
from grader.tokens import TokenStore
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
COURSE = Path(__file__).resolve().parent / "course"
CALLBACK_SECRET = "test-callback-secret"


@dataclass
class WorkerProcess:
    """A ``grader worker`` process in a session of its own (so it can be killed whole)."""

    env: dict[str, str]
    concurrency: int = 1
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self, log: Path) -> WorkerProcess:
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "grader.cli", "worker", "--queues", "cpu,gpu",
                 "--concurrency", str(self.concurrency), "--loglevel", "info"],
                env=self.env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pool_children(self) -> list[int]:
        """Pids of the Celery pool processes (children of the main process)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL the worker's whole process group, as a machine failure would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> None:
        """Ask it to stop (warm shutdown) without waiting."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)

    def stop(self, terminated: bool = False) -> None:
        """Stop it (warm shutdown), killing it if it takes too long; ``terminated``: it was
        already asked to."""
        if self.process is None or self.process.poll() is not None:
            return
        if not terminated:
            self.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""


@dataclass
class Namespace:
    """A key prefix with its own queues, store, app, tokens and workers."""

    prefix: str
    redis_url: str
    env: dict[str, str]
    store: Store
    app: Flask
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def headers(self, who: str = "instructor") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def start_worker(self, concurrency: int = 1, wait: bool = True) -> WorkerProcess:
        worker = WorkerProcess(self.env, concurrency).start(
            self.tmp / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        if wait:
            self.wait_for_worker(worker)
        return worker

    def wait_for_worker(self, worker: WorkerProcess, timeout_s: float = 90) -> None:
        def up() -> bool:
            if worker.process is not None and worker.process.poll() is not None:
                pytest.fail(f"the worker exited:\n{worker.output()[-3000:]}")
            return any(b.pid == worker.pid for b in self.store.workers())

        wait_for(up, timeout_s, "the worker's heartbeat", 0.2)

    def submit(self, code: str, exercise: str = "add-one", learner: str = "ann",
               who: str = "lms", **extra: Any) -> str:
        response = self.client.post(
            "/api/v1/submissions", headers=self.headers(who),
            json={"exercise": exercise, "code": code, "learner": learner, **extra})
        assert response.status_code == 202, response.get_json()
        return str(response.get_json()["id"])

    def record(self, submission_id: str) -> SubmissionRecord:
        record = self.store.get_submission(submission_id)
        assert record is not None
        return record

    def broker_drained(self) -> bool:
        """No message of this namespace waits in a queue or is delivered but unacknowledged.
        Tasks are acknowledged late (after they ran), so every delivery, a duplicate included,
        has then run to its end."""
        client = self.store.client
        unacked = f"{self.prefix}:broker:unacked"
        queues = [key for key in client.scan_iter(match=f"{self.prefix}:broker:*", count=1000)
                  if client.type(key) == "list"]  # Redis deletes a list when it empties
        return not queues and not client.hlen(unacked)

    def wait_finished(self, submission_id: str, timeout_s: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = self.client.get(
                f"/api/v1/submissions/{submission_id}?wait=1",
                headers=self.headers()).get_json()
            return body if body["status"] in ("graded", "failed") else None

        result: dict[str, Any] = wait_for(finished, timeout_s, f"submission {submission_id}")
        return result


CORRECT = "def add_one(x):\n    return x + 1\n"
WRONG = "def add_one(x):\n    return x + 2\n"


def sleeping(seconds: float) -> str:
    """A correct submission that takes ``seconds`` inside the function."""
    return ("import time\n\n\ndef add_one(x):\n"
            f"    time.sleep({seconds})\n    return x + 1\n")


@pytest.fixture(scope="session")
def namespace_factory(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    Callable[..., Namespace]
]:
    """Make namespaces; their workers are stopped at the end of the session."""
    made: list[Namespace] = []

    def make(redis: str | None = None, **settings: Any) -> Namespace:
        """A namespace on the session's Redis (or on ``redis``, a URL of the test's own)."""
        url = redis or redis_url
        prefix = f"t{uuid.uuid4().hex[:8]}"
        tmp = tmp_path_factory.mktemp(prefix)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env.update({
            "GRADER_REDIS_URL": url,
            "GRADER_KEY_PREFIX": prefix,
            "GRADER_MODE": "development",  # the test Redis has no password
            "GRADER_EXERCISES_DIR": str(COURSE),
            "GRADER_CALLBACK_SECRET": CALLBACK_SECRET,
            "GRADER_CALLBACK_RETRIES": "3",
            "GRADER_CALLBACK_BACKOFF_S": "0.2",
            "GRADER_CALLBACK_TIMEOUT_S": "5",
            "GRADER_HEARTBEAT_S": "1",
            "GRADER_RESTORE_INTERVAL_S": "1",
            "GRADER_CACHE_DIR": str(tmp / "cache"),
            # The tests' callback receivers listen on 127.0.0.1, explicitly allow-listed;
            # nothing else that is not public may receive a callback.
            "GRADER_CALLBACK_ALLOWED_NETWORKS": "127.0.0.1/32",
            "PYTHONUNBUFFERED": "1",
        })
        env.update({f"GRADER_{k.upper()}": str(v) for k, v in settings.items()})
        store = Store.from_url(url, prefix)
        app = create_app({
            "TESTING": True, "REDIS_URL": url, "KEY_PREFIX": prefix,
            "EXERCISES_DIR": str(COURSE), "SUBMIT_RATE_LIMIT": "1000 per minute",
            "VALIDATION_TIMEOUT_S": 120,
            "CALLBACK_ALLOWED_NETWORKS": env["GRADER_CALLBACK_ALLOWED_NETWORKS"],
        })
        ns = Namespace(prefix, url, env, store, app, tmp)
        for role, learner in (("instructor", None), ("lms", None), ("learner", "ann")):
            ns.tokens[role] = TokenStore(store).create_token(role, f"test {role}", learner)[0]  # type: ignore[arg-type]
        ns.tokens["other_learner"] = TokenStore(store).create_token("learner", "bob", "bob")[0]
        made.append(ns)
        return ns

    yield make
    workers = [worker for ns in made for worker in ns.workers]
    for worker in workers:  # all shut down at once, not one after another
        worker.terminate()
    for worker in workers:
        worker.stop(terminated=True)


@pytest.fixture(scope="session")
def service(namespace_factory: Callable[..., Namespace]) -> Namespace:
    """A namespace with one running worker (concurrency 1), shared by the API tests."""
    ns = namespace_factory()
    ns.start_worker()
    return ns
