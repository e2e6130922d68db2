"""Fault tests: a burst of submissions while one part is killed, one at a time, counting what
was submitted (answered 202), graded, lost (never finished) and duplicated (finished more than
once, or listed twice). Every count must end 0 lost and 0 duplicated; the numbers of the last
run are in docs/service.md.

The sweeper (worker/sweeper.py) runs every second here, on submissions older than 2 s, so that
it, not the 900 s visibility timeout, recovers what a dead process left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.store import Store
from grader.dispatch import Dispatcher
from grader.processes import free_port
from grader.statistics import Statistics
from tests.service.conftest import Namespace, sleeping, wait_for

pytestmark = pytest.mark.slow

SWEEPER = {"sweep_interval_s": 1, "sweep_grace_s": 2, "grading_time_limit_s": 20,
           "heartbeat_s": 1}


@dataclass
class Tally:
    """What a client saw and what the store ended with."""

    submitted: list[str] = field(default_factory=list)
    refused: int = 0  # answered 503 while a part was down: not accepted, nothing to lose

    def counts(self, ns: Namespace, learners: list[str]) -> dict[str, int]:
        records = [ns.store.get_submission(i) for i in self.submitted]
        graded = sum(1 for r in records if r is not None and r.status == "graded")
        failed = sum(1 for r in records if r is not None and r.status == "failed")
        lost = sum(1 for r in records if r is None or not r.finished)
        listed = [r.id for learner in learners for r in ns.store.history(learner, 500)]
        finishes = Statistics(ns.store).latency()[1]  # counted once per finish
        duplicated = (len(listed) - len(set(listed))) + max(finishes - (graded + failed), 0)
        duplicated += max(Statistics(ns.store).stats("add-one").graded - graded, 0)
        return {"submitted": len(self.submitted), "graded": graded, "failed": failed,
                "lost": lost, "duplicated": duplicated, "refused": self.refused}


def submit(ns: Namespace, tally: Tally, i: int, seconds: float = 0.3) -> None:
    response = ns.client.post("/api/v1/submissions", headers=ns.headers("lms"), json={
        "exercise": "add-one", "code": sleeping(seconds), "learner": f"f{i % 4}"})
    if response.status_code == 202:
        tally.submitted.append(response.get_json()["id"])
    else:
        assert response.status_code == 503, response.get_json()
        tally.refused += 1


def settle(ns: Namespace, tally: Tally, timeout_s: float = 180) -> dict[str, int]:
    def all_finished() -> bool:
        return all(ns.record(i).finished for i in tally.submitted)

    wait_for(all_finished, timeout_s, "every submission to finish", 0.5)
    time.sleep(3)  # a duplicate delivery, if any, would finish by now
    return tally.counts(ns, [f"f{i}" for i in range(4)])


def report(name: str, counts: dict[str, int]) -> None:
    print(f"\nFAULT {name}: {counts}")


def test_a_celery_pool_process_killed_mid_burst(
    namespace_factory: Callable[..., Namespace],
) -> None:
    ns = namespace_factory(**SWEEPER)
    worker = ns.start_worker(concurrency=2)
    tally = Tally()
    for i in range(12):
        submit(ns, tally, i)
    wait_for(lambda: Statistics(ns.store).counts()["graded"] >= 3 and worker.pool_children(), 90,
             "grading under way")
    os.kill(worker.pool_children()[0], signal.SIGKILL)
    counts = settle(ns, tally)
    report("pool process", counts)
    assert counts["lost"] == 0 and counts["duplicated"] == 0
    assert counts["graded"] == counts["submitted"] == 12


def test_the_celery_main_process_killed_mid_burst(
    namespace_factory: Callable[..., Namespace],
) -> None:
    ns = namespace_factory(**SWEEPER)  # visibility timeout stays 900 s: the sweeper recovers
    first = ns.start_worker(concurrency=2)
    tally = Tally()
    for i in range(12):
        submit(ns, tally, i, seconds=1.0)
    counts = Statistics(ns.store).counts
    wait_for(lambda: counts()["running"] >= 1 and counts()["graded"] >= 2, 90,
             "grading under way")
    first.kill()  # main process and pool, as a machine failure would
    ns.start_worker(concurrency=2)
    counts = settle(ns, tally)
    report("celery main process", counts)
    assert counts["lost"] == 0 and counts["duplicated"] == 0
    assert counts["graded"] == counts["submitted"] == 12


class Killed(BaseException):
    """Stands for the web process dying: nothing after it runs, no handler catches it."""


def test_a_web_worker_killed_between_record_and_dispatch(
    namespace_factory: Callable[..., Namespace], monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = namespace_factory(**SWEEPER)
    ns.start_worker(concurrency=2)
    real_send = Dispatcher.send
    calls = {"n": 0}

    def dying_send(self: Dispatcher, task: str, argument: str, queue: str) -> None:
        calls["n"] += 1
        if calls["n"] % 3 == 0:  # every third request dies after writing its record
            raise Killed
        real_send(self, task, argument, queue)

    monkeypatch.setattr(Dispatcher, "send", dying_send)
    tally, retried = Tally(), 0
    for i in range(12):
        body = {"exercise": "add-one", "code": sleeping(0.2), "learner": f"f{i % 4}"}
        headers = {**ns.headers("lms"), "Idempotency-Key": f"burst-{i}"}
        try:
            response = ns.client.post("/api/v1/submissions", headers=headers, json=body)
        except Killed:
            # The client got no answer. Half the clients retry with the same key (the replay
            # sends the task); the other half never come back (the sweeper sends it).
            found = [r for r in ns.store.history(f"f{i % 4}", 500) if r.id not in
                     tally.submitted]
            assert len(found) == 1 and found[0].status == "queued"
            if i % 2 == 0:
                response = ns.client.post("/api/v1/submissions", headers=headers, json=body)
                assert response.headers.get("Idempotent-Replayed") == "true"
                retried += 1
            else:
                tally.submitted.append(found[0].id)
                continue
        assert response.status_code == 202
        tally.submitted.append(response.get_json()["id"])
    counts = settle(ns, tally)
    report(f"web worker between record and dispatch ({retried} retried)", counts)
    assert calls["n"] >= 12
    assert counts["lost"] == 0 and counts["duplicated"] == 0
    assert counts["graded"] == counts["submitted"] == 12


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A redis-server of this test's own, with the deployment's append-only persistence;
    returns its URL, kill() (SIGKILL) and start() (same port, same files)."""
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--logfile", str(folder / "redis.log")]))
        probe = Store.from_url(f"redis://127.0.0.1:{port}/0")
        wait_for(probe.ping, 20, "redis-server to answer")

    def kill() -> None:
        processes[-1].send_signal(signal.SIGKILL)
        processes[-1].wait(10)

    start()
    yield f"redis://127.0.0.1:{port}/0", kill, start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def test_redis_killed_mid_burst(
    namespace_factory: Callable[..., Namespace],
    own_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    url, kill, start = own_redis
    ns = namespace_factory(redis=url, **SWEEPER)
    worker = ns.start_worker(concurrency=2)
    tally = Tally()
    stop = threading.Event()

    def burst() -> None:
        for i in range(400):
            if stop.is_set():
                return
            submit(ns, tally, i, seconds=0.3)
            time.sleep(0.15)

    thread = threading.Thread(target=burst)
    thread.start()
    wait_for(lambda: len(tally.submitted) >= 8, 60, "the burst to start")
    kill()
    time.sleep(3)
    start()
    wait_for(lambda: len(tally.submitted) >= 16, 90, "submissions accepted after the restart")
    stop.set()
    thread.join(60)
    counts = settle(ns, tally, timeout_s=240)
    report("redis", counts)
    assert worker.process is not None and worker.process.poll() is None
    assert counts["lost"] == 0 and counts["duplicated"] == 0
    assert counts["graded"] == counts["submitted"] and counts["failed"] == 0
