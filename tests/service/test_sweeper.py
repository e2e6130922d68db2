"""The sweeper's rules, on a real Redis without workers: what it sends again and what not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from common.contract import GRADE_TASK
from common.records import SubmissionRecord, new_submission_id
from grader.dispatch import Dispatcher
from tests.service.conftest import CORRECT, Namespace
from worker.sweeper import sweep


@pytest.fixture
def ns(namespace_factory: Callable[..., Namespace]) -> Namespace:
    return namespace_factory()


def record(ns: Namespace) -> str:
    """A submission written as the web writes it, without sending its task."""
    new = SubmissionRecord(id=new_submission_id(), exercise="add-one", learner="sw",
                           status="queued", queue="cpu")
    ns.store.create_submission(new, CORRECT)
    return new.id


def run(ns: Namespace) -> list[str]:
    sent: list[str] = []
    sweep(ns.store, lambda i, q: sent.append(i), grace_s=0, stale_running_s=600)
    return sent


def test_a_queued_submission_without_a_task_is_sent_again_once_its_task_waits(
    ns: Namespace,
) -> None:
    orphan = record(ns)
    assert run(ns) == [orphan]
    Dispatcher(ns.redis_url, ns.prefix).send(GRADE_TASK, orphan, "cpu")
    assert run(ns) == []  # its task now waits in the queue


def test_a_submission_running_on_a_stopped_worker_is_sent_again(ns: Namespace) -> None:
    stuck = record(ns)
    ns.store.start_attempt(stuck, "grader-1@host pid 111", 3)
    ns.store.beat("grader-1@host", ["cpu"], 111, ttl_s=30)
    assert run(ns) == []  # its worker is alive
    # Restarted under the same name (as grader serve does): a new process, a new pid.
    ns.store.beat("grader-1@host", ["cpu"], 222, ttl_s=30)
    assert run(ns) == [stuck]


def test_finished_submissions_leave_the_worklist(ns: Namespace) -> None:
    done = record(ns)
    ns.store.finish(done, "failed", error="x")
    assert run(ns) == [] and ns.store.pending(0) == []


def test_young_submissions_are_left_alone(ns: Namespace) -> None:
    record(ns)
    sent: list[str] = []
    sweep(ns.store, lambda i, q: sent.append(i), grace_s=30, stale_running_s=600)
    assert sent == []
