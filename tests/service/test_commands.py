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
from typing import Any

import pytest
import redis
import requests

from common.store import Store
from grader.cli import run_service
from grader.processes import free_port
from grader.tokens import TokenStore
from tests.service.conftest import CORRECT, COURSE, wait_for
from worker.runner import Runner

ROOT = Path(__file__).resolve().parents[2]


def _grader(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_token_create_list_revoke(redis_url: str, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    env = {**os.environ, "GRADER_REDIS_URL": redis_url, "GRADER_KEY_PREFIX": "tokens-cli"}
    created = _grader("token", "create", "--role", "learner", "--name", "Ann",
                      "--learner", "ann", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    store = Store.from_url(redis_url, "tokens-cli")
    record = TokenStore(store).lookup_token(token)
    assert record is not None and record.role == "learner" and record.learner == "ann"

    # The rest in this process: the same command code without an interpreter start each.
    monkeypatch.setenv("GRADER_REDIS_URL", redis_url)
    monkeypatch.setenv("GRADER_KEY_PREFIX", "tokens-cli")

    def token_command(*args: str) -> tuple[int, str, str]:
        code = run_service(["token", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, listed, _ = token_command("list")
    assert code == 0 and record.id in listed and token not in listed
    assert token_command("revoke", record.id)[0] == 0
    assert TokenStore(store).lookup_token(token) is None
    assert token_command("revoke", record.id)[0] == 1
    code, _, refused = token_command("create", "--role", "learner", "--name", "x")
    assert code == 2 and "--learner" in refused


def assert_secrets_at_rest_are_private(data: Path) -> None:
    """What a local user could read or forge with, before: the data folder 0700 and every file
    in it 0600 (the append-only file included); Redis requires a password that no command line
    shows; the session-signing key is not kept in Redis."""
    assert (data.stat().st_mode & 0o777) == 0o700
    for path in data.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert (path.stat().st_mode & 0o777) == expected, f"{path} is {path.stat().st_mode:o}"
    assert any((data / "redis" / "appendonlydir").iterdir())
    url = (data / "redis-url").read_text().strip()
    password = (data / "redis-password").read_text().strip()
    assert password and f":{password}@" in url
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    anonymous = redis.Redis(host="127.0.0.1", port=port)
    with pytest.raises(redis.AuthenticationError):
        anonymous.get("grader:pages:secret")
    store = Store.from_url(url)
    assert store.ping() and store.client.get("grader:pages:secret") is None
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert password not in text, f"the Redis password shows in {cmdline}"


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
        assert_secrets_at_rest_are_private(tmp_path)
    finally:
        serve.send_signal(signal.SIGINT)
        status = serve.wait(60)
    assert status == 0, log.read_text()[-3000:]
    time.sleep(0.5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "grader serve left processes behind"


def _children(pid: int) -> dict[str, int]:
    """The direct children of ``pid`` by kind (redis, worker, web)."""
    found: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            kind = ("redis" if "redis-server" in cmdline else "worker" if "celery" in cmdline
                    else "web" if "gunicorn" in cmdline else "other")
            found[kind] = int(child)
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.slow
def test_serve_restarts_what_dies_and_leaves_nothing_behind_when_killed(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update({"GRADER_DATA_DIR": str(tmp_path), "GRADER_EXERCISES_DIR": str(COURSE),
                "PYTHONUNBUFFERED": "1"})
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    with log.open("wb") as output:
        serve = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "serve", "--port", str(port),
             "--concurrency", "1"],
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        printed = wait_for(lambda: re.search(r"development token \(instructor\): (\S+)",
                                             log.read_text()), 150, "grader serve to start",
                           0.2)
        headers = {"Authorization": f"Bearer {printed.group(1)}"}
        before = _children(serve.pid)
        assert set(before) == {"redis", "worker", "web"}
        for kind in ("worker", "redis", "web"):  # each dies as if it crashed
            os.kill(before[kind], signal.SIGKILL)
            wait_for(lambda k=kind: _children(serve.pid).get(k, before[k]) != before[k], 30,
                     f"{kind} to be restarted", 0.2)
            assert re.search(rf"grader: {kind} \(pid {before[kind]}\) exited .* restarting it",
                             log.read_text())
            wait_for(healthy, 120, f"the service to be healthy after {kind} restarted", 0.5)
        accepted = requests.post(f"{base}/api/v1/submissions", headers=headers, timeout=10,
                                 json={"exercise": "add-one", "learner": "ann", "code": CORRECT})
        assert accepted.status_code == 202, accepted.text
        graded = requests.get(f"{base}{accepted.json()['url']}?wait=30", headers=headers,
                              timeout=40).json()
        assert graded["status"] == "graded"
        assert serve.poll() is None
        children = _children(serve.pid)
    finally:
        serve.kill()  # SIGKILL: no chance to stop anything itself
        serve.wait(10)
    wait_for(lambda: not any(_alive(pid) for pid in children.values()), 60,
             "the processes of a killed grader serve to end", 0.5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/healthz", timeout=2)


@pytest.mark.slow
def test_exercises_import_then_export_meet_in_the_service(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_process: Any,
    borrowed_sandbox: Runner,
) -> None:
    # The grading commands run in this process (tests/core/test_cli.py runs the console
    # script) and validate and grade on the session's warm sandbox.
    fixture = ROOT / "tests" / "fixtures" / "course"
    monkeypatch.setenv("GRADER_REDIS_URL", redis_url)
    monkeypatch.setenv("GRADER_KEY_PREFIX", "transfer-cli")
    imported = in_process("exercises", "import", str(fixture), "tiny-share")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "live tiny-share" in imported.stdout
    stored = Store.from_url(redis_url, "transfer-cli").get_exercise("tiny-share")
    assert stored is not None and stored.info.origin == "upload"

    # Not in the shipped course: only the service has it, and export writes it out.
    out = tmp_path / "course"
    exported = in_process("exercises", "export", "tiny-share", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "from the service" in exported.stdout
    folder = out / "exercises" / "tiny-share"
    assert (folder / "exercise.yaml").read_text() == (
        fixture / "exercises" / "tiny-share" / "exercise.yaml").read_text()
    assert (out / "reference" / "tiny-share.py").is_file()
    checked = in_process("--exercises", str(out), "check", "tiny-share",
                         str(folder / "golden" / "as_tensor.py"))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    unknown = in_process("exercises", "export", "no-such-thing", str(out))
    assert unknown.returncode == 2 and "unknown exercise 'no-such-thing'" in unknown.stderr
