"""A submission accepted with 202 is never lost and never graded twice: not when its worker is
killed mid-grade, and not when it kills every worker that takes it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from grader.statistics import Statistics
from tests.service.conftest import Namespace, sleeping, wait_for

pytestmark = pytest.mark.slow


def test_worker_killed_mid_grade_is_graded_once_by_a_new_worker(
    namespace_factory: Callable[..., Namespace],
) -> None:
    # A short visibility timeout so the new worker gets the unacknowledged message quickly.
    ns = namespace_factory(visibility_timeout_s=8, grading_time_limit_s=20)
    first = ns.start_worker()
    submission_id = ns.submit(sleeping(2.5))
    wait_for(lambda: ns.record(submission_id).status == "running", 60, "grading to start")
    first.kill()
    assert ns.record(submission_id).status == "running"
    ns.start_worker()
    body = ns.wait_finished(submission_id, timeout_s=90)
    assert body["status"] == "graded" and body["passed"] is True
    assert body["attempts"] == 2
    # Every delivery (a duplicate too) has run to its end once the broker holds nothing.
    wait_for(ns.broker_drained, 30, "the broker to hold no message of the namespace")
    assert Statistics(ns.store).counts() == {"queued": 0, "running": 0, "graded": 1, "failed": 0}
    assert [r.id for r in ns.store.history("ann")] == [submission_id]
    assert Statistics(ns.store).stats("add-one").graded == 1
    assert Statistics(ns.store).latency()[1] == 1


def test_submission_that_kills_every_worker_ends_failed_after_the_cap(
    namespace_factory: Callable[..., Namespace],
) -> None:
    ns = namespace_factory(max_attempts=2, grading_time_limit_s=30)
    worker = ns.start_worker()
    submission_id = ns.submit(sleeping(5))
    killed: set[int] = set()
    deadline = time.monotonic() + 150
    while not ns.record(submission_id).finished:
        assert time.monotonic() < deadline, "the submission never ended"
        record = ns.record(submission_id)
        children = worker.pool_children()
        # Whichever pool process has just started grading it dies, as if the submission
        # crashed it (the Celery main process survives and requeues the task).
        # (A third delivery finds the cap reached and ends the submission: it is not killed,
        # though the record may read "running" with 3 attempts for a moment before it does.)
        if (record.status == "running" and len(killed) < record.attempts <= 2
                and children):
            for pid in children:
                os.kill(pid, signal.SIGKILL)
            killed.add(record.attempts)
        time.sleep(0.05)
    record = ns.record(submission_id)
    assert record.status == "failed"
    assert record.attempts == 3 and killed == {1, 2}
    assert record.error is not None and "stopped the grading worker 2 times" in record.error
    body = ns.client.get(f"/api/v1/submissions/{submission_id}",
                         headers=ns.headers()).get_json()
    assert body["status"] == "failed" and "not graded" in body["error"]
    assert Statistics(ns.store).counts()["failed"] == 1
    assert worker.process is not None and worker.process.poll() is None
