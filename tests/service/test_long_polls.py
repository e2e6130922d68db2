"""Long polls (``?wait=``): a token may hold only a few at once (429 beyond), so that one
caller cannot take every connection; a poll (and the pages' live status) is woken by the
worker's announcement of the result, not by polling Redis. At scale: test_many_long_polls.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from common.protocol import Verdict
from grader.accounts import AccountStore
from grader.tokens import TokenStore
from grader.waiting import RECHECK_S
from tests.service.conftest import CORRECT, Namespace, wait_for
from tests.service.test_sessions import PASSWORD, sign_in

VERDICT = Verdict(exercise="add-one", status="passed", score=1.0, max_score=1.0, checks=[])


@pytest.fixture(scope="module")
def ns(namespace_factory: Callable[..., Namespace]) -> Namespace:
    """No worker: submissions stay queued, so every ?wait= runs to its end."""
    namespace = namespace_factory()
    namespace.app.config.update(MAX_POLLS_PER_TOKEN=3, MAX_WAIT_S=4.0)
    return namespace


def test_polls_beyond_the_cap_are_429_until_one_ends(ns: Namespace) -> None:
    submission_id = ns.submit(CORRECT, learner="poller")
    url = f"/api/v1/submissions/{submission_id}?wait=4"
    statuses: list[int] = []

    def poll() -> None:
        statuses.append(ns.app.test_client().get(url, headers=ns.headers("lms")).status_code)

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for thread in threads:
        thread.start()
    wait_for(lambda: ns.store.client.zcard(ns.store.key("polls", token_id(ns, "lms"))) == 3,
             10, "three polls to be held")
    started = time.monotonic()
    refused = ns.client.get(url, headers=ns.headers("lms"))
    assert refused.status_code == 429 and time.monotonic() - started < 2
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"]["code"] == "rate_limited"
    # Another token, and a plain poll of the same token, are not held up.
    assert ns.client.get(url, headers=ns.headers("instructor")).status_code == 200
    assert ns.client.get(f"/api/v1/submissions/{submission_id}",
                         headers=ns.headers("lms")).status_code == 200
    for thread in threads:
        thread.join(15)
    assert statuses == [200, 200, 200]
    assert ns.client.get(f"{url[:-1]}1", headers=ns.headers("lms")).status_code == 200


def test_a_poll_whose_process_died_stops_counting(ns: Namespace) -> None:
    # A slot left by a web process killed mid-poll expires with the poll's lifetime.
    key = ns.store.key("polls", token_id(ns, "learner"))
    now = ns.store.now()
    ns.store.client.zadd(key, {f"dead{i}": now + 0.5 for i in range(3)})
    submission_id = ns.submit(CORRECT, learner="ann", who="learner")
    url = f"/api/v1/submissions/{submission_id}?wait=0.2"
    assert ns.client.get(url, headers=ns.headers("learner")).status_code == 429
    time.sleep(0.7)
    assert ns.client.get(url, headers=ns.headers("learner")).status_code == 200


def later(seconds: float, action: Callable[[], object]) -> threading.Thread:
    """Run ``action`` in ``seconds``, as a worker would, while the test waits on the web."""
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def test_a_long_poll_returns_when_the_result_is_written(ns: Namespace) -> None:
    # MAX_WAIT_S is 4 here and a waiter re-reads at least every RECHECK_S (5): only the
    # announcement of the result can end this poll well before 4 s.
    assert RECHECK_S >= 4
    submission_id = ns.submit(CORRECT, learner="woken")
    writer = later(0.3, lambda: ns.store.finish(submission_id, "graded", VERDICT))
    started = time.monotonic()
    body = ns.client.get(f"/api/v1/submissions/{submission_id}?wait=4",
                         headers=ns.headers("instructor")).get_json()
    assert body["status"] == "graded" and time.monotonic() - started < 3.0
    writer.join()


def test_the_pages_live_status_waits_for_the_next_status(ns: Namespace) -> None:
    AccountStore(ns.store).create("sam", PASSWORD, "learner")
    client = ns.app.test_client()
    sign_in(client, "sam")
    submission_id = ns.submit(CORRECT, learner="sam")
    url = f"/submissions/{submission_id}/status.json"
    assert client.get(url).get_json()["status"] == "queued"  # no ?since=: at once
    later(0.3, lambda: ns.store.start_attempt(submission_id, "test-worker", 3))
    started = time.monotonic()
    assert client.get(f"{url}?since=queued").get_json()["status"] == "running"
    assert time.monotonic() - started < 4.0
    later(0.3, lambda: ns.store.finish(submission_id, "graded", VERDICT))
    started = time.monotonic()
    body = client.get(f"{url}?since=running").get_json()
    assert body["status"] == "graded" and body["finished"] is True
    assert time.monotonic() - started < 4.0
    # A status the page no longer shows is answered at once.
    started = time.monotonic()
    assert client.get(f"{url}?since=queued").get_json()["status"] == "graded"
    assert time.monotonic() - started < 2.0


def token_id(ns: Namespace, who: str) -> str:
    record = TokenStore(ns.store).lookup_token(ns.tokens[who])
    assert record is not None
    return record.id
