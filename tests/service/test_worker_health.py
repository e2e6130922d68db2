"""``python -m worker.health``: the worker containers' health check reads the heartbeats."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

from common.store import Store
from tests.service.conftest import ROOT


def _health(redis_url: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(GRADER_REDIS_URL=redis_url, GRADER_KEY_PREFIX=prefix)
    return subprocess.run([sys.executable, "-m", "worker.health", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def test_healthy_only_while_a_worker_on_this_host_beats(redis_url: str) -> None:
    prefix = f"h{uuid.uuid4().hex[:8]}"
    store = Store.from_url(redis_url, prefix)
    host = socket.gethostname()
    assert _health(redis_url, prefix).returncode == 1
    store.beat(f"grader-1@elsewhere-{host}", ["cpu", "callbacks"], 1, ttl_s=30)
    out = _health(redis_url, prefix)
    assert out.returncode == 1 and f"no live worker on {host}" in out.stdout
    store.beat(f"grader-2@{host}", ["gpu", "callbacks"], 2, ttl_s=30)
    out = _health(redis_url, prefix)
    assert out.returncode == 0 and f"grader-2@{host} (gpu,callbacks)" in out.stdout
    assert _health(redis_url, prefix, "--queue", "gpu").returncode == 0
    assert _health(redis_url, prefix, "--queue", "cpu").returncode == 1
    store.forget_worker(f"grader-2@{host}")
    assert _health(redis_url, prefix).returncode == 1


def test_unhealthy_when_redis_does_not_answer() -> None:
    from grader.processes import free_port

    out = _health(f"redis://127.0.0.1:{free_port()}/0", "nothing")
    assert out.returncode == 1 and "Redis does not answer" in out.stdout
