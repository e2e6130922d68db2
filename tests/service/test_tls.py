"""Redis over TLS (``rediss://``), as docs/deploy.md sets it up between hosts: a redis-server
with a TLS port only and a password; the store, the web's Celery producer and rate limiter, and
a real worker all talk to it with the certificate checked against the deployment's own CA."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from common.store import Store
from grader.app import create_app
from grader.processes import free_port
from grader.tokens import TokenStore
from tests.service.conftest import CORRECT, COURSE, WorkerProcess, wait_for

pytestmark = pytest.mark.slow
PASSWORD = "s3cret-for-tls-test"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> None:
    """A CA, and a server certificate it signed for 127.0.0.1 / localhost."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=grader test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "redis.key", "-out", "redis.csr", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "redis.pem",
             cwd=folder)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=some other CA", "-keyout", "other.key", "-out", "other.pem", cwd=folder)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """redis-server listening with TLS only (no plain port), password required."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make certificates")
    folder = tmp_path_factory.mktemp("tls")
    make_certificates(folder)
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(folder / "redis.pem"), "--tls-key-file",
         str(folder / "redis.key"), "--tls-ca-cert-file", str(folder / "ca.pem"),
         "--tls-auth-clients", "no", "--requirepass", PASSWORD, "--save", "",
         "--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")])
    try:
        url = _url(port, folder / "ca.pem")
        wait_for(lambda: _pings(url), 15, "the TLS redis-server")
        yield port, folder
    finally:
        process.terminate()
        process.wait(10)


def _url(port: int, ca: Path, password: str = PASSWORD) -> str:
    return (f"rediss://:{password}@127.0.0.1:{port}/0"
            f"?ssl_cert_reqs=required&ssl_ca_certs={ca}")


def _pings(url: str) -> bool:
    try:
        return bool(Store.from_url(url).ping())
    except redis.ConnectionError:
        return False


def test_the_certificate_and_the_password_are_checked(tls_redis: tuple[int, Path]) -> None:
    port, folder = tls_redis
    assert Store.from_url(_url(port, folder / "ca.pem")).ping()
    with pytest.raises(redis.ConnectionError):  # a server certificate signed by another CA
        redis.Redis.from_url(_url(port, folder / "other.pem")).ping()
    with pytest.raises(redis.ConnectionError):  # plain text to the TLS port
        redis.Redis.from_url(f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
                             socket_timeout=3).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(_url(port, folder / "ca.pem", "wrong")).ping()


def test_a_submission_is_graded_with_every_hop_over_tls(
    tls_redis: tuple[int, Path], tmp_path: Path,
) -> None:
    port, folder = tls_redis
    url = _url(port, folder / "ca.pem")
    prefix = f"tls{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(GRADER_REDIS_URL=url, GRADER_KEY_PREFIX=prefix,
               GRADER_EXERCISES_DIR=str(COURSE), GRADER_HEARTBEAT_S="1",
               GRADER_CACHE_DIR=str(tmp_path / "cache"), GRADER_SANDBOX_WARM="1",
               GRADER_CALLBACK_SECRET=secrets.token_hex(32), PYTHONUNBUFFERED="1")
    worker = WorkerProcess(env).start(tmp_path / "worker.log")
    try:
        store = Store.from_url(url, prefix)
        wait_for(lambda: any(b.pid == worker.pid for b in store.workers()) or
                 (worker.process is not None and worker.process.poll() is not None),
                 90, "the worker's heartbeat over TLS", 0.2)
        assert worker.process is not None and worker.process.poll() is None, worker.output()
        app = create_app({"TESTING": True, "REDIS_URL": url, "KEY_PREFIX": prefix,
                          "EXERCISES_DIR": str(COURSE)})
        token = TokenStore(store).create_token("lms", "tls test")[0]
        client = app.test_client()
        response = client.post("/api/v1/submissions", headers={
            "Authorization": f"Bearer {token}"},
            json={"exercise": "add-one", "code": CORRECT, "learner": "ann"})
        assert response.status_code == 202, response.get_json()
        submission_id = response.get_json()["id"]
        body = wait_for(lambda: (b := client.get(
            f"/api/v1/submissions/{submission_id}?wait=1",
            headers={"Authorization": f"Bearer {token}"}).get_json())["status"] == "graded"
            and b, 60, "the grading over TLS")
        assert body["passed"] is True, body
    finally:
        worker.stop()
