"""The grader as several hosts on one machine: Redis, the web and workers, each in a network
namespace of its own around one bridge (:mod:`tests.cluster.netns`), talking over real
interfaces. Used by ``tests/cluster/test_cluster.py`` and ``scripts/cluster-demo``.

The driving process (the test, the demo) talks to the web and to Redis from a ``client`` node
of its own: it enters that namespace for as long as the cluster is up, so every socket it opens
meanwhile lives there and can reach the nodes and nothing else.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.records import SubmissionRecord
from common.store import Store
from grader.tokens import TokenStore
from tests.cluster.netns import Network, Node, inside, sweep_stale

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "tests" / "service" / "course"
REDIS_HOST, WEB_HOST, CLIENT_HOST = 2, 3, 100
WEB_PORT, REDIS_PORT = 8000, 6379

# Never through a proxy from the environment: the only hosts are the namespaces' own.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ClusterError(RuntimeError):
    """The cluster did not come up or did not behave (the message says what and where)."""


def grader_script() -> str:
    """The ``grader`` console script installed beside this interpreter (never PATH's)."""
    path = Path(sys.executable).parent / "grader"
    if not path.is_file():
        raise ClusterError(f"{path} is missing: scripts/bootstrap installs the project")
    return str(path)


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str,
               interval_s: float = 0.1) -> Any:
    """Poll ``condition`` until it is truthy; raise ClusterError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise ClusterError(f"timed out after {timeout_s:g} s waiting for {what}")


@dataclass
class Service:
    """A process running in a node, its output in a log file."""

    name: str
    node: Node
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM its process group (a warm shutdown), SIGKILL if it lingers."""
        if not self.alive():
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(10)


@dataclass
class Cluster:
    """Redis, the web and workers on their own nodes; use as a context manager."""

    tmp: Path
    course: Path = COURSE
    # Short enough that a killed worker's message comes back within the test; long enough
    # that no message is handed out twice meanwhile. A message waits unacknowledged from the
    # moment a worker receives it, also while a cold worker's pool process still starts its
    # sandbox (measured up to 16 s on a loaded 2-core machine), then grades (3 s here).
    visibility_timeout_s: int = 30
    sandbox_warm: int = 1
    network: Network = field(default_factory=Network)
    services: dict[str, Service] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"cl{secrets.token_hex(4)}")
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    tokens: dict[str, str] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)
    _store: Store | None = None
    client: Node | None = None

    # --- addresses -------------------------------------------------------------------------

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.password}@{self.network.nodes['redis'].address}:{REDIS_PORT}/0"

    @property
    def base(self) -> str:
        return f"http://{self.network.nodes['web'].address}:{WEB_PORT}"

    @property
    def store(self) -> Store:
        assert self._store is not None, "the cluster is not up"
        return self._store

    # --- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        sweep_stale()
        self._stack.callback(self.network.destroy)
        try:
            self.network.create()
            self.client = self.network.add_node("client", CLIENT_HOST)
            self._stack.enter_context(inside(self.client))
            self._stack.callback(self._stop_services)
            self.tmp.mkdir(parents=True, exist_ok=True)
        except BaseException:
            self._stack.close()  # __exit__ will not run: remove what was made
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _stop_services(self) -> None:
        if self._store is not None:
            self._store._r.close()  # its sockets live in the client namespace: close them here
            self._store = None
        for service in reversed(list(self.services.values())):
            if service.alive():
                service.stop(10)

    def env(self, **settings: object) -> dict[str, str]:
        """The environment of every service: this cluster's Redis, key prefix and course."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env.update({
            "GRADER_REDIS_URL": self.redis_url,
            "GRADER_KEY_PREFIX": self.prefix,
            "GRADER_EXERCISES_DIR": str(self.course),
            # Production mode, as on real hosts: real secrets (Redis has a password too).
            "GRADER_CALLBACK_SECRET": secrets.token_hex(32),
            "GRADER_SECRET_KEY": secrets.token_hex(32),
            "GRADER_HEARTBEAT_S": "1",
            "GRADER_RESTORE_INTERVAL_S": "1",
            "GRADER_VISIBILITY_TIMEOUT_S": str(self.visibility_timeout_s),
            "GRADER_GRADING_TIME_LIMIT_S": "60",
            "GRADER_SANDBOX_WARM": str(self.sandbox_warm),
            "GRADER_CACHE_DIR": str(self.tmp / "cache"),
            "GRADER_SUBMIT_RATE_LIMIT": "1000 per minute",
            # The workers' "succeeded in" lines are the tally's second count of gradings.
            "GRADER_TASK_LOG": "1",
            "PYTHONUNBUFFERED": "1",
        })
        env.update({f"GRADER_{k.upper()}": str(v) for k, v in settings.items()})
        return env

    def _spawn(self, name: str, node: Node, argv: list[str], env: dict[str, str]) -> Service:
        log = self.tmp / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(node.command(argv), env=env, cwd=ROOT, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        service = Service(name, node, process, log)
        self.services[name] = service
        return service

    def start_redis(self) -> Service:
        """redis-server on its own node, bound to the bridge address, with a password."""
        node = self.network.add_node("redis", REDIS_HOST)
        binary = shutil.which("redis-server")
        if binary is None:
            raise ClusterError("redis-server is not installed (scripts/bootstrap installs it)")
        folder = self.tmp / "redis"
        folder.mkdir(exist_ok=True)
        service = self._spawn("redis", node, [
            binary, "--bind", node.address, "--port", str(REDIS_PORT), "--dir", str(folder),
            "--requirepass", self.password, "--save", "", "--appendonly", "no",
            "--daemonize", "no"], self.env())
        self._store = Store.from_url(self.redis_url, self.prefix)
        wait_until(self._redis_up, 15, "redis-server to answer")
        for role in ("instructor", "lms"):
            self.tokens[role] = TokenStore(self.store).create_token(role, f"cluster {role}")[0]  # type: ignore[arg-type]
        return service

    def _redis_up(self) -> bool:
        if not self.services["redis"].alive():
            raise ClusterError(f"redis-server exited:\n{self.services['redis'].output()}")
        return self.store.ping()

    def start_web(self) -> Service:
        """``grader web`` (gunicorn) on its own node."""
        node = self.network.add_node("web", WEB_HOST)
        return self._spawn("web", node, [
            grader_script(), "web", "--host", node.address, "--port", str(WEB_PORT),
            "--workers", "1", "--threads", "8"], self.env())

    def start_worker(self, name: str, host: int, queues: str) -> Service:
        """``grader worker`` (one pool process) on a node of its own."""
        node = self.network.add_node(name, host)
        return self._spawn(name, node, [
            grader_script(), "worker", "--queues", queues, "--concurrency", "1",
            "--loglevel", "info"], self.env())

    def wait_web(self, timeout_s: float = 90) -> None:
        def up() -> bool:
            if not self.services["web"].alive():
                raise ClusterError(f"the web exited:\n{self.services['web'].output()}")
            return self.get("/healthz")[0] in (200, 503)

        wait_until(up, timeout_s, "the web to answer", 0.3)

    def wait_worker(self, service: Service, timeout_s: float = 120) -> None:
        """Until the worker's heartbeat is in Redis (it has connected over the bridge)."""
        def up() -> bool:
            if not service.alive():
                raise ClusterError(f"{service.name} exited:\n{service.output()}")
            return any(b.pid == service.pid for b in self.store.workers())

        wait_until(up, timeout_s, f"{service.name}'s heartbeat", 0.3)

    def kill_node(self, name: str) -> int:
        """SIGKILL every process of the node at once; returns how many there were."""
        service = self.services[name]
        killed = self.network.kill_node(service.node)
        service.process.wait(10)
        return killed

    # --- talking to the web ------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                who: str = "lms", timeout_s: float = 15) -> tuple[int, Any]:
        """One HTTP request to the web node; returns (status, parsed JSON or text)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if who:
            request.add_header("Authorization", f"Bearer {self.tokens[who]}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _HTTP.open(request, timeout=timeout_s) as response:
                status, raw = int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError:
            return 0, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str, who: str = "instructor") -> tuple[int, Any]:
        return self.request("GET", path, who=who)

    def submit(self, code: str, exercise: str, learner: str) -> str:
        status, body = self.request("POST", "/api/v1/submissions",
                                    {"exercise": exercise, "code": code, "learner": learner})
        if status != 202:
            raise ClusterError(f"submission refused: {status} {body}")
        return str(body["id"])

    def record(self, submission_id: str) -> SubmissionRecord:
        record = self.store.get_submission(submission_id)
        if record is None:
            raise ClusterError(f"submission {submission_id} is not in Redis")
        return record

    def wait_finished(self, ids: list[str], timeout_s: float) -> list[SubmissionRecord]:
        def done() -> list[SubmissionRecord] | None:
            records = [self.record(i) for i in ids]
            return records if all(r.finished for r in records) else None

        records: list[SubmissionRecord] = wait_until(done, timeout_s,
                                                     f"{len(ids)} submissions to finish", 0.2)
        return records

    def worker_of(self, record: SubmissionRecord) -> str | None:
        """The service whose Celery node recorded the submission (node names hold the pid)."""
        for name, service in self.services.items():
            if record.worker and record.worker.startswith(f"grader-{service.pid}@"):
                return name
        return None

    def task_results(self) -> Iterator[tuple[str, str]]:
        """(worker, result) for every grading task a worker's log says it finished."""
        marker = "Task grader.grade_submission["
        for name, service in self.services.items():
            for line in service.output(tail=10**8).splitlines():
                if marker in line and " succeeded in " in line:
                    yield name, line.rsplit(":", 1)[-1].strip().strip("'\"")
