"""Callbacks: a graded submission is POSTed to its callback_url, signed with HMAC-SHA256, and
retried with backoff until the receiver accepts it. The receiver is a tiny HTTP server on
127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.service.conftest import CALLBACK_SECRET, CORRECT, Namespace, wait_for
from worker.callbacks import SIGNATURE_HEADER, verify_signature

pytestmark = pytest.mark.slow


@dataclass
class Receiver:
    """Answers 500 to the first ``failures`` deliveries, then 200; keeps what it got."""

    failures: int
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(failures=2)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.received.append((dict(self.headers.items()), body))
                status = 500 if len(state.received) <= state.failures else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/grader-hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_callback_is_signed_and_retried_until_accepted(service: Namespace,
                                                       receiver: Receiver) -> None:
    submission_id = service.submit(CORRECT, learner="hana", callback_url=receiver.url)
    service.wait_finished(submission_id)
    wait_for(lambda: service.record(submission_id).callback_status == "delivered", 30,
             "the callback to be delivered")
    assert len(receiver.received) == 3
    for attempt, (headers, body) in enumerate(receiver.received, start=1):
        assert verify_signature(CALLBACK_SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify_signature("another secret", body, headers[SIGNATURE_HEADER])
        assert headers["X-Grader-Attempt"] == str(attempt)
        payload = json.loads(body)
        assert payload["id"] == submission_id and payload["status"] == "graded"
        assert payload["score"] == payload["max_score"] == 4
        assert payload["result"]["checks"]
    view = service.client.get(f"/api/v1/submissions/{submission_id}",
                              headers=service.headers()).get_json()
    assert view["callback"] == {"url": receiver.url, "status": "delivered", "attempts": 3,
                                "error": None}


def test_callback_that_never_succeeds_ends_failed_without_blocking_grading(
    service: Namespace, receiver: Receiver,
) -> None:
    receiver.failures = 100
    submission_id = service.submit(CORRECT, learner="ivan", callback_url=receiver.url)
    body = service.wait_finished(submission_id)
    assert body["status"] == "graded"  # graded before the callback gave up
    wait_for(lambda: service.record(submission_id).callback_status == "failed", 30,
             "the callback to give up")
    record = service.record(submission_id)
    assert record.callback_attempts == 4  # the first try and 3 retries
    assert len(receiver.received) == 4
    assert record.callback_error is not None and "500" in record.callback_error
