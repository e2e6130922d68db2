"""``grader serve``: the whole service on one machine, in the foreground.

Starts Redis (the one in ``GRADER_REDIS_URL`` if set, else a private ``redis-server`` with
append-only persistence in the data folder), a Celery worker for every queue and the web app;
prints the URL and a development token; on Ctrl-C (or SIGTERM) stops the web app, then the
worker (letting a running grading finish), then Redis. A process that dies meanwhile is
restarted with backoff (:mod:`grader.supervision`); if ``grader serve`` itself is killed, its
processes get SIGTERM from the kernel.

Secrets at rest: the data folder is 0700 and everything in it 0600 (the whole service runs
under umask 077); the private Redis requires a generated password (in a 0600 config file, never
on a command line); the session-signing key and the callback secret are generated into files of
the data folder and handed to the processes in their environment, not kept in Redis. The
processes run in development mode (``GRADER_MODE``), since this is a machine of one's own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from common.store import Store
from grader.accounts import AccountStore
from grader.processes import (
    free_port,
    parse_queues,
    redis_command,
    web_command,
    worker_command,
)
from grader.supervision import Child
from grader.tokens import TokenStore

DEV_INSTRUCTOR = "instructor"
STOP_TIMEOUT_S = 30.0


def default_data_dir() -> Path:
    """``GRADER_DATA_DIR``, else ``$XDG_DATA_HOME/grader`` (``~/.local/share/grader``)."""
    explicit = os.environ.get("GRADER_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "grader"


@dataclass
class ServeOptions:
    """What ``grader serve`` starts."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=default_data_dir)
    concurrency: int = max(os.cpu_count() or 1, 1)
    web_workers: int = 2
    # Requests (long polls included) one gevent web worker holds at once.
    connections: int = 2000


class Supervisor:
    """Starts the processes, watches them, and stops them in order."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.children: list[Child] = []
        self.stopping = False

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        child = Child(name, command, dict(env))
        child.start()
        self.children.append(child)

    def _secret(self, name: str) -> str:
        path = self.options.data_dir / name
        if not path.exists():
            _write_private(path, secrets.token_hex(32))
        return path.read_text().strip()

    def start_redis(self, env: dict[str, str]) -> str:
        """The Redis URL to use, starting a private server unless one is configured."""
        if env.get("GRADER_REDIS_URL"):
            return env["GRADER_REDIS_URL"]
        folder = self.options.data_dir / "redis"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        password = self._secret("redis-password")
        config = folder / "redis.conf"
        _write_private(config, f"requirepass {password}\n")
        port = free_port()
        self._start("redis", redis_command(folder, port, config), env)
        url = f"redis://:{password}@127.0.0.1:{port}/0"
        _write_private(self.options.data_dir / "redis-url", url + "\n")
        return url

    def dev_token(self, store: Store) -> str:
        """The development instructor token kept in the data folder (created if needed)."""
        path = self.options.data_dir / "dev-token"
        if path.exists():
            token = path.read_text().strip()
            if TokenStore(store).lookup_token(token) is not None:
                return token
        token, _ = TokenStore(store).create_token("instructor", "grader serve (development)")
        _write_private(path, token)
        return token

    def dev_account(self, store: Store) -> tuple[str, str]:
        """The development instructor account for the web pages, with its password kept in
        the data folder (created if needed; its password reset to the kept one)."""
        accounts = AccountStore(store)
        password = self._secret("dev-instructor-password")
        if accounts.get(DEV_INSTRUCTOR) is None:
            accounts.create(DEV_INSTRUCTOR, password, "instructor", "Development instructor",
                            created_by="grader serve")
        elif accounts.authenticate(DEV_INSTRUCTOR, password) is None:
            accounts.set_password(DEV_INSTRUCTOR, password)
        return DEV_INSTRUCTOR, password

    def run(self) -> int:
        """Run until interrupted, restarting a process that dies; returns the exit status."""
        # Everything the service writes (Redis's files included) is for this user alone.
        os.umask(0o077)
        _make_private(self.options.data_dir)
        env = dict(os.environ)
        env.setdefault("GRADER_MODE", "development")
        signal.signal(signal.SIGINT, self._interrupt)
        signal.signal(signal.SIGTERM, self._interrupt)
        try:
            url = self.start_redis(env)
            env["GRADER_REDIS_URL"] = url
            env.setdefault("GRADER_CALLBACK_SECRET", self._secret("callback-secret"))
            env.setdefault("GRADER_SECRET_KEY", self._secret("secret-key"))
            store = Store.from_url(url, env.get("GRADER_KEY_PREFIX", "grader"))
            if not _wait(store.ping, 15):
                print(f"grader: Redis at {url} does not answer", file=sys.stderr)
                return 1
            token = self.dev_token(store)
            account = self.dev_account(store)
            self._start("worker", worker_command(parse_queues("cpu,gpu"),
                                                 self.options.concurrency), env)
            o = self.options
            self._start("web", web_command(o.host, o.port, o.web_workers,
                                           connections=o.connections), env)
            base = f"http://{o.host}:{o.port}"
            if not _wait(lambda: _answers(f"{base}/healthz"), 120, self._alive):
                print("grader: the web app did not start", file=sys.stderr)
                return 1
            self._announce(base, token, url, account)
            while not self.stopping:
                now = time.monotonic()
                for child in self.children:
                    child.watch(now)
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def _announce(self, base: str, token: str, redis_url: str,
                  account: tuple[str, str]) -> None:
        kept = self.options.data_dir / "redis-url"
        hint = (f" (for 'grader token': export GRADER_REDIS_URL=$(cat {kept}))"
                if kept.exists() and f"{kept.read_text().strip()}" == redis_url else "")
        print(f"grader is running at {base}\n"
              f"  sign in at {base}/ as {account[0]!r}, password {account[1]}\n"
              f"  development token (instructor): {token}\n"
              f"  try: curl -H 'Authorization: Bearer {token}' {base}/api/v1/exercises\n"
              f"  API document: {base}/api/v1/docs/openapi.json\n"
              f"  Redis: {_without_password(redis_url)}{hint}\n"
              f"  data: {self.options.data_dir}\n"
              "Press Ctrl-C to stop.", flush=True)

    def _alive(self) -> bool:
        return all(child.running for child in self.children)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:  # a second Ctrl-C: stop now
            for child in self.children:
                if child.process is not None:
                    _signal(child.process, signal.SIGKILL)
        self.stopping = True

    def stop(self) -> None:
        """Stop the web app, then the worker, then Redis; kill what does not stop in time."""
        self.stopping = True
        order = {"web": 0, "worker": 1, "redis": 2}
        for child in sorted(self.children, key=lambda c: order.get(c.name, 0)):
            process = child.process
            if process is None:
                continue
            _signal(process, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                print(f"grader: {child.name} did not stop; killing it", file=sys.stderr)
                _signal(process, signal.SIGKILL)
                process.wait()


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by this user only from the first byte on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_CREAT


def _make_private(folder: Path) -> None:
    """``folder`` and everything in it: folders 0700, files 0600 (also what an older version
    of ``grader serve`` left world-readable)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for root, dirs, files in os.walk(folder):
        for name, mode in [*((d, 0o700) for d in dirs), *((f, 0o600) for f in files)]:
            path = os.path.join(root, name)
            if not os.path.islink(path):  # os.walk does not descend into linked folders
                os.chmod(path, mode)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f":***@{parts.hostname}:{parts.port}").geturl()


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def _wait(ready: object, timeout_s: float, alive: object = None) -> bool:
    assert callable(ready)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return True
        if callable(alive) and not alive():
            return False
        time.sleep(0.2)
    return False


def serve(options: ServeOptions) -> int:
    """Run the whole service until Ctrl-C."""
    return Supervisor(options).run()
