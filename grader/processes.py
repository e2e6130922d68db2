"""The command lines of the service's processes: Celery workers, the web server, Redis.

``grader worker`` and ``grader web`` exec these; ``grader serve`` runs all three.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from common.contract import CALLBACK_QUEUE, GRADING_QUEUES

APP = "grader.app:create_app()"


def parse_queues(text: str) -> list[str]:
    """``cpu,gpu`` -> the grading queues named, plus the callback queue every worker serves."""
    queues = [q.strip() for q in text.split(",") if q.strip()]
    unknown = [q for q in queues if q not in (*GRADING_QUEUES, CALLBACK_QUEUE)]
    if unknown or not queues:
        raise ValueError(f"unknown queues {unknown}; choose from {', '.join(GRADING_QUEUES)}")
    return [*queues, CALLBACK_QUEUE] if CALLBACK_QUEUE not in queues else queues


def worker_command(queues: Sequence[str], concurrency: int, pool: str = "prefork",
                   loglevel: str = "info", name: str | None = None) -> list[str]:
    """A Celery worker for ``queues``: prefetch 1, late acks (set in the app), no gossip or
    mingle (workers share nothing but Redis), a unique node name."""
    node = name or f"grader-{os.getpid()}@%h"
    return [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
            "-Q", ",".join(queues), "-c", str(concurrency), "-P", pool,
            "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
            "-n", node, "-l", loglevel]


#: Gunicorn worker classes ``grader web`` offers: gevent (the default) parks a waiting request
#: as a greenlet, so long polls cost no thread; gthread is the plain threaded fallback.
WEB_WORKER_CLASSES = ("gevent", "gthread")


def web_command(host: str, port: int, workers: int, threads: int = 16,
                access_log: bool = False, worker_class: str = "gevent",
                connections: int = 2000) -> list[str]:
    """Gunicorn serving :func:`grader.app.create_app`. With gevent workers (the default) each
    process holds up to ``connections`` requests at once, long polls included, since a waiting
    request only waits on Redis (:mod:`grader.waiting`); with gthread workers each holds
    ``threads`` requests, long polls included."""
    if worker_class not in WEB_WORKER_CLASSES:
        raise ValueError(f"unknown worker class {worker_class!r}")
    command = [sys.executable, "-m", "gunicorn", APP, "--bind", f"{host}:{port}",
               "--workers", str(workers), "--worker-class", worker_class,
               "--timeout", "600", "--graceful-timeout", "20"]
    if worker_class == "gevent":
        command += ["--worker-connections", str(connections)]
    else:
        command += ["--threads", str(threads)]
    if access_log:
        command += ["--access-logfile", "-"]
    return command


def redis_command(data_dir: Path, port: int, config: Path | None = None) -> list[str]:
    """A private Redis for ``grader serve``: loopback only, append-only persistence; secrets
    (``requirepass``) come from ``config``, a file, so that they never show in ``ps``."""
    return ["redis-server", *([str(config)] if config else []),
            "--bind", "127.0.0.1", "--port", str(port),
            "--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--protected-mode", "yes", "--daemonize", "no",
            "--logfile", str(data_dir / "redis.log")]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
