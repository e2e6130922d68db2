"""The service commands as a person runs them: ``grader serve`` (everything on one machine,
stopped by Ctrl-C) and ``grader token``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from grader.processes import free_port
from tests.service.conftest import CORRECT, COURSE, wait_for
from worker.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _grader(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_token_create_list_revoke(redis_url: str) -> None:
    env = {**os.environ, "GRADER_REDIS_URL": redis_url, "GRADER_KEY_PREFIX": "tokens-cli"}
    created = _grader("token", "create", "--role", "learner", "--name", "Ann",
                      "--learner", "ann", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    store = Store.from_url(redis_url, "tokens-cli")
    record = store.lookup_token(token)
    assert record is not None and record.role == "learner" and record.learner == "ann"
    listed = _grader("token", "list", env=env)
    assert record.id in listed.stdout and token not in listed.stdout
    assert _grader("token", "revoke", record.id, env=env).returncode == 0
    assert store.lookup_token(token) is None
    assert _grader("token", "revoke", record.id, env=env).returncode == 1
    refused = _grader("token", "create", "--role", "learner", "--name", "x", env=env)
    assert refused.returncode == 2 and "--learner" in refused.stderr


@pytest.mark.slow
def test_serve_starts_everything_grades_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update({"GRADER_DATA_DIR": str(tmp_path), "GRADER_EXERCISES_DIR": str(COURSE),
                "PYTHONUNBUFFERED": "1"})
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        serve = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "serve", "--port", str(port),
             "--concurrency", "1"],
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        printed = wait_for(lambda: re.search(r"development token \(instructor\): (\S+)",
                                             log.read_text()), 150, "grader serve to start",
                           0.2)
        token = printed.group(1)
        assert f"grader is running at http://127.0.0.1:{port}" in log.read_text()
        base = f"http://127.0.0.1:{port}/api/v1"
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{base}/exercises", headers=headers, timeout=10).status_code == 200
        accepted = requests.post(f"{base}/submissions", headers=headers, timeout=10, json={
            "exercise": "add-one", "learner": "ann", "code": CORRECT})
        assert accepted.status_code == 202
        graded = requests.get(f"http://127.0.0.1:{port}{accepted.json()['url']}?wait=30",
                              headers=headers, timeout=40).json()
        assert graded["status"] == "graded" and graded["passed"] is True
        assert (tmp_path / "redis" / "appendonlydir").is_dir()
    finally:
        serve.send_signal(signal.SIGINT)
        status = serve.wait(60)
    assert status == 0, log.read_text()[-3000:]
    time.sleep(0.5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "grader serve left processes behind"


@pytest.mark.slow
def test_exercises_import_then_export_meet_in_the_service(redis_url: str, tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "fixtures" / "course"
    env = {**os.environ, "GRADER_REDIS_URL": redis_url, "GRADER_KEY_PREFIX": "transfer-cli"}
    env.pop("GRADER_EXERCISES_DIR", None)
    imported = _grader("exercises", "import", str(fixture), "tiny-share", env=env)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "live tiny-share" in imported.stdout
    stored = Store.from_url(redis_url, "transfer-cli").get_exercise("tiny-share")
    assert stored is not None and stored.info.origin == "upload"

    # Not in the shipped course: only the service has it, and export writes it out.
    out = tmp_path / "course"
    exported = _grader("exercises", "export", "tiny-share", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    assert "from the service" in exported.stdout
    folder = out / "exercises" / "tiny-share"
    assert (folder / "exercise.yaml").read_text() == (
        fixture / "exercises" / "tiny-share" / "exercise.yaml").read_text()
    assert (out / "reference" / "tiny-share.py").is_file()
    checked = _grader("--exercises", str(out), "check", "tiny-share",
                      str(folder / "golden" / "as_tensor.py"), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    unknown = _grader("exercises", "export", "no-such-thing", str(out), env=env)
    assert unknown.returncode == 2 and "unknown exercise 'no-such-thing'" in unknown.stderr
