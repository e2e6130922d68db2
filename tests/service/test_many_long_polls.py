"""Long polls cost no thread: 200 of them held open against the production web server
(gunicorn with gevent workers, as ``grader serve`` and ``grader web`` start it) leave
``/healthz`` answering, and each poll returns as soon as its result is written, or when its
wait ends.

Results are written with :meth:`common.store.Store.finish`, the call a grading worker makes
(the same Lua script, hence the same announcement the web waits on); grading 100 submissions in
the sandbox would only make this test slower. Timing targets are for
``benchmarks/long_polls.py``; the bounds here only catch a web tier that blocks.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from common.protocol import Verdict
from grader.processes import free_port, web_command
from tests.conftest import stop_process_groups
from tests.service.conftest import CORRECT, ROOT, Namespace, wait_for

POLLS = 200
WAIT_S = 6.0


@dataclass
class Web:
    """A gunicorn web process of the namespace, on a free port."""

    port: int
    process: subprocess.Popen[bytes]

    def get(self, path: str, token: str | None = None, timeout_s: float = 30
            ) -> tuple[int, dict[str, object]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()


@pytest.fixture(scope="module")
def ns(namespace_factory: Callable[..., Namespace]) -> Namespace:
    """No worker: submissions stay queued until the test writes their results."""
    return namespace_factory()


@pytest.fixture(scope="module")
def web(ns: Namespace) -> Iterator[Web]:
    port = free_port()
    env = dict(ns.env, GRADER_MAX_POLLS_PER_TOKEN="1000",
               GRADER_API_RATE_LIMIT="100000 per minute", GRADER_SECRET_KEY="test-secret")
    log = (ns.tmp / "web.log").open("wb")
    # One web process: it alone must hold every poll and still answer.
    process = subprocess.Popen(web_command("127.0.0.1", port, 1), env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Web(port, process)

    def up() -> bool:
        assert process.poll() is None, (ns.tmp / "web.log").read_text()[-3000:]
        try:
            return server.get("/healthz", timeout_s=2)[0] in (200, 503)
        except OSError:
            return False

    try:
        wait_for(up, 60, "gunicorn to answer", 0.2)
        yield server
    finally:
        stop_process_groups([process], 20)
        log.close()


def test_200_long_polls_leave_healthz_answering_and_end_with_their_results(
    ns: Namespace, web: Web,
) -> None:
    # A heartbeat as a worker writes it, so /healthz can answer 200 (no worker grades here).
    ns.store.beat("test-worker@here", ["cpu"], os.getpid(), ttl_s=120)
    ids = [ns.submit(CORRECT, learner=f"p{i % 20}") for i in range(POLLS)]
    token = ns.tokens["lms"]
    answers: dict[str, tuple[int, str, float]] = {}
    errors: list[BaseException] = []

    def poll(submission_id: str) -> None:
        try:
            status, body = web.get(f"/api/v1/submissions/{submission_id}?wait={WAIT_S}",
                                   token, timeout_s=WAIT_S + 20)
            answers[submission_id] = (status, str(body.get("status")), time.monotonic())
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in ids]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    polls_key = ns.store.key("polls", _token_id(ns, token))
    wait_for(lambda: ns.store.client.zcard(polls_key) == POLLS, WAIT_S - 1,
             f"{POLLS} polls to be held", 0.05)

    # The web process holds every poll and still answers health checks promptly.
    for _ in range(3):
        asked = time.monotonic()
        status, body = web.get("/healthz", timeout_s=5)
        assert status == 200 and body["status"] == "ok"
        assert time.monotonic() - asked < 3.0
    assert not answers, "a poll returned before its result or its wait's end"

    # Half the results arrive: those polls return at once, the rest keep waiting.
    finished = set(ids[::2])
    for submission_id in finished:
        ns.store.finish(submission_id, "graded", Verdict(
            exercise="add-one", status="passed", score=1.0, max_score=1.0, checks=[]))
    # (Woken by the result's announcement: a waiter's own re-read comes only every 5 s.)
    wait_for(lambda: finished <= answers.keys(), 4, "the finished polls to return", 0.05)
    assert all(answers[i][:2] == (200, "graded") for i in finished)

    # The others end cleanly when their wait does: 200, still queued, nothing left held.
    for thread in threads:
        thread.join(WAIT_S + 20)
    assert not errors, errors[:3]
    assert len(answers) == POLLS
    for submission_id in set(ids) - finished:
        status, text, at = answers[submission_id]
        assert (status, text) == (200, "queued")
        assert at - started >= WAIT_S - 0.5
    assert ns.store.client.zcard(polls_key) == 0
    assert web.get("/healthz", timeout_s=5)[0] == 200


def _token_id(ns: Namespace, token: str) -> str:
    from grader.tokens import TokenStore

    record = TokenStore(ns.store).lookup_token(token)
    assert record is not None
    return record.id
