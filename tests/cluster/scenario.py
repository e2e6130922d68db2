"""What the cluster test and ``scripts/cluster-demo`` do to a :class:`Cluster`.

1. Redis, the web, a ``cpu`` worker and a ``gpu``-queue worker come up, each on its own node.
2. Submissions to both queues are graded, each by the worker of its queue.
3. Slow ``cpu`` submissions are sent; while the ``cpu`` node grades one, every process of that
   node is killed at once. The web keeps answering (a ``gpu`` submission is accepted and graded
   meanwhile, ``/healthz`` drops the dead worker).
4. A worker that joins late takes the ``cpu`` work, the interrupted grading included.
5. The tally: submitted, graded, lost, duplicated, from the records in Redis and from the
   workers' own logs, not from the web's word.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from common.records import SubmissionRecord
from grader.statistics import Statistics
from tests.cluster.cluster import Cluster, ClusterError, wait_until

CORRECT = "def add_one(x):\n    return x + 1\n"
WRONG = "def add_one(x):\n    return x + 2\n"


def sleeping(seconds: float) -> str:
    """A correct submission that spends ``seconds`` inside the function."""
    return f"import time\n\n\ndef add_one(x):\n    time.sleep({seconds})\n    return x + 1\n"


@dataclass
class Tally:
    """What happened to every submission the scenario made."""

    submitted: int = 0
    graded: int = 0
    failed: int = 0
    lost: int = 0
    # Deliveries beyond one per submission that were not forced by the kill: gradings started
    # twice, and deliveries that found their submission already finished (absorbed by the
    # store, but a message handed out twice all the same).
    duplicated: int = 0
    interrupted: int = 0  # gradings running on the killed node when it died
    killed_processes: int = 0
    graded_by: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The counts, one line."""
        by = ", ".join(f"{k}={v}" for k, v in sorted(self.graded_by.items()))
        return (f"submitted={self.submitted} graded={self.graded} failed={self.failed} "
                f"lost={self.lost} duplicated={self.duplicated} "
                f"interrupted={self.interrupted} killed_processes={self.killed_processes} "
                f"graded_by[{by}]")


def run(cluster: Cluster, say: Callable[[str], None] = print) -> Tally:
    """Run the scenario on a fresh cluster (inside its ``with``); returns the tally. Raises
    ClusterError when something does not happen in time or goes to the wrong worker."""
    started = time.monotonic()

    def step(text: str) -> None:
        say(f"[{time.monotonic() - started:5.1f} s] {text}")

    tally = Tally()
    ids: list[str] = []

    def submit(code: str, exercise: str, learner: str) -> str:
        ids.append(cluster.submit(code, exercise, learner))
        tally.submitted += 1
        return ids[-1]

    cluster.start_redis()
    web = cluster.start_web()
    cpu = cluster.start_worker("worker-cpu", 11, "cpu")
    gpu = cluster.start_worker("worker-gpu", 12, "gpu")
    cluster.wait_web()
    cluster.wait_worker(cpu)
    cluster.wait_worker(gpu)
    step(f"up: redis {cluster.network.nodes['redis'].address}, web {web.node.address}, "
         f"worker-cpu {cpu.node.address}, worker-gpu {gpu.node.address}")

    # Both queues, each to its own worker.
    first = [submit(CORRECT, "add-one", "ann"), submit(WRONG, "add-one", "bob"),
             submit(CORRECT, "add-one-gpu", "ann"), submit(WRONG, "add-one-gpu", "bob")]
    records = cluster.wait_finished(first, 90)
    for record in records:
        expected = "worker-gpu" if record.exercise == "add-one-gpu" else "worker-cpu"
        if cluster.worker_of(record) != expected:
            raise ClusterError(f"{record.exercise} was graded by {record.worker}, not by "
                               f"{expected}")
        if record.passed != (record.learner == "ann"):
            raise ClusterError(f"{record.id} ({record.learner}) has passed={record.passed}")
    step(f"both queues graded: {[(r.exercise, r.queue, cluster.worker_of(r)) for r in records]}")

    # Slow cpu work; kill the cpu node while it grades one.
    slow = [submit(sleeping(3), "add-one", f"slow{i}") for i in range(3)]
    running: SubmissionRecord = wait_until(
        lambda: next((r for r in map(cluster.record, slow)
                      if r.status == "running" and cluster.worker_of(r) == "worker-cpu"), None),
        60, "worker-cpu to start a slow grading", 0.05)
    time.sleep(0.5)  # well inside the 3 s the submission sleeps
    still = cluster.record(running.id)
    if still.finished:
        raise ClusterError("the slow grading finished before the kill; nothing was interrupted")
    tally.interrupted = sum(
        1 for r in map(cluster.record, slow)
        if r.status == "running" and cluster.worker_of(r) == "worker-cpu")
    tally.killed_processes = cluster.kill_node("worker-cpu")
    step(f"killed every process of worker-cpu ({tally.killed_processes}) while it graded "
         f"{running.id}")

    # The web keeps answering with one worker node gone.
    status, body = cluster.get(f"/api/v1/submissions/{running.id}")
    if status != 200 or body["status"] not in ("queued", "running"):
        raise ClusterError(f"GET of the interrupted submission: {status} {body}")
    during = submit(CORRECT, "add-one-gpu", "carl")
    cluster.wait_finished([during], 60)
    if cluster.worker_of(cluster.record(during)) != "worker-gpu":
        raise ClusterError("the gpu submission made during the outage went elsewhere")

    def dead_worker_dropped() -> bool:
        code, health = cluster.get("/healthz", who="")
        names = [w["name"] for w in health["workers"]] if code == 200 else []
        return code == 200 and not any(n.startswith(f"grader-{cpu.pid}@") for n in names)

    wait_until(dead_worker_dropped, 30, "/healthz to drop the dead worker", 0.3)
    step("web still answers: GET 200, a gpu submission graded, /healthz without worker-cpu")

    # A worker that joins late takes the cpu work, the interrupted grading included.
    late = cluster.start_worker("worker-late", 13, "cpu")
    cluster.wait_worker(late)
    step("worker-late joined")
    cluster.wait_finished(ids, 120)
    time.sleep(2)  # a second delivery of anything, if there were one, would show by now
    step("every submission finished")

    records = [cluster.record(i) for i in ids]
    tally.graded = sum(r.status == "graded" for r in records)
    tally.failed = sum(r.status == "failed" for r in records)
    tally.lost = sum(not r.finished for r in records)
    tally.graded_by.update(cluster.worker_of(r) or "?" for r in records)
    if not any(cluster.worker_of(r) == "worker-late" for r in map(cluster.record, slow)):
        raise ClusterError("the late worker graded none of the cpu work")
    if cluster.worker_of(cluster.record(running.id)) != "worker-late":
        raise ClusterError("the interrupted grading was not finished by the late worker")

    # Duplicates, counted two independent ways: deliveries that started a grading beyond one
    # per submission (less the interrupted ones, which had to start again), and task runs
    # that found their submission already finished (a message handed out twice).
    extra_starts = sum(r.attempts for r in records) - len(records) - tally.interrupted
    results = Counter(result for _, result in cluster.task_results())
    tally.duplicated = max(extra_starts, 0) + results["done"]
    for r in records:
        if r.attempts > 1 + (r.id == running.id):
            tally.notes.append(f"{r.id} ({r.exercise}) started {r.attempts} times, last on "
                               f"{cluster.worker_of(r)}")
    tally.notes.extend(f"{worker} found a submission already finished"
                       for worker, result in cluster.task_results() if result == "done")
    if results["graded"] + results["failed"] != tally.graded + tally.failed:
        tally.notes.append(f"worker logs report {dict(results)}")
        tally.duplicated += abs(results["graded"] + results["failed"]
                                - tally.graded - tally.failed)
    stats = sum(Statistics(cluster.store).stats(s).graded for s in ("add-one", "add-one-gpu"))
    if stats != tally.graded:
        tally.notes.append(f"the statistics count {stats} gradings for {tally.graded}")
        tally.duplicated += abs(stats - tally.graded)
    step(f"tally: {tally.line()}")
    return tally
