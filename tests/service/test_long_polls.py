"""Long polls (``?wait=``) hold a web thread each: a token may hold only a few at once (429
beyond), so that one caller cannot take every thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from grader.tokens import TokenStore
from tests.service.conftest import CORRECT, Namespace, wait_for


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


def token_id(ns: Namespace, who: str) -> str:
    record = TokenStore(ns.store).lookup_token(ns.tokens[who])
    assert record is not None
    return record.id
