"""Regrading an exercise's submissions after the exercise changed, with progress to show.

A regrade files each affected submission's source again as a new submission (``submitted_by``
``regrade:<original id>``), through the same store and queue as any other, so it is graded
exactly once however often its task is delivered, and the original stays as it was. A
submission is affected when its newest grading (the original or its latest regrade) finished
under another version of the exercise (content hash), or failed; one still queued or running
is left alone. Starting a regrade twice only queues what is still out of date.

Keys (owned here, under the store's prefix):

=====================================  =======  ==============================================
``P:regrade:<job>``                    string   a :class:`RegradeJob` as JSON
``P:regrade:exercise:<slug>``          string   the id of the exercise's latest job
=====================================  =======  ==============================================

Known limit: the gradebook keeps each learner's best score ever, so a regrade can raise a
best score but never lower one.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from common.records import ExerciseInfo, SubmissionRecord
from common.store import Store
from grader.pages.attempts import regrade_of
from grader.pages.submit import enqueue

JOB_TTL_S = 30 * 86400


class RegradeJob(BaseModel):
    """One regrade: which exercise version it grades against and the submissions it queued."""

    id: str
    exercise: str
    content_hash: str
    submission_ids: list[str]
    created_at: float
    created_by: str


@dataclass(frozen=True)
class RegradeProgress:
    """How far a regrade is."""

    job: RegradeJob
    finished: int
    failed: int

    @property
    def total(self) -> int:
        """Submissions the job queued."""
        return len(self.job.submission_ids)

    @property
    def done(self) -> bool:
        """Every queued submission is graded or failed."""
        return self.finished >= self.total

    @property
    def percent(self) -> int:
        """Finished share, as a whole percentage (100 for an empty job)."""
        return 100 if not self.total else round(100 * self.finished / self.total)

    def as_json(self) -> dict[str, Any]:
        """What the progress bar's script reads."""
        return {"id": self.job.id, "total": self.total, "finished": self.finished,
                "failed": self.failed, "percent": self.percent, "done": self.done}


class RegradeStore:
    """The regrade keys."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._r: Any = store.client

    def save(self, job: RegradeJob) -> None:
        """Keep a job and make it its exercise's latest."""
        pipe = self._r.pipeline()
        pipe.set(self.store.key("regrade", job.id), job.model_dump_json(), ex=JOB_TTL_S)
        pipe.set(self.store.key("regrade", "exercise", job.exercise), job.id, ex=JOB_TTL_S)
        pipe.execute()

    def get(self, job_id: str) -> RegradeJob | None:
        """A job, or None."""
        if len(job_id) > 64:
            return None
        raw = self._r.get(self.store.key("regrade", job_id))
        return RegradeJob.model_validate_json(raw) if raw else None

    def latest(self, slug: str) -> RegradeJob | None:
        """The exercise's latest job, or None."""
        job_id = self._r.get(self.store.key("regrade", "exercise", slug))
        return self.get(str(job_id)) if job_id else None

    def progress(self, job: RegradeJob) -> RegradeProgress:
        """Count the job's finished submissions."""
        pipe = self._r.pipeline(transaction=False)
        for submission_id in job.submission_ids:
            pipe.hget(self.store.key("submission", submission_id), "status")
        statuses = pipe.execute() if job.submission_ids else []
        return RegradeProgress(job, finished=sum(s in ("graded", "failed") for s in statuses),
                               failed=sum(s == "failed" for s in statuses))


def out_of_date(records: list[SubmissionRecord], content_hash: str) -> list[SubmissionRecord]:
    """The original submissions whose newest grading is stale (see the module's docstring)."""
    newest: dict[str, SubmissionRecord] = {}
    originals: dict[str, SubmissionRecord] = {}
    for record in sorted(records, key=lambda r: r.created_at):
        original = regrade_of(record) or record.id
        if original == record.id:
            originals[record.id] = record
        newest[original] = record
    stale = []
    for original_id, latest in newest.items():
        if original_id not in originals or not latest.finished:
            continue
        if latest.status == "graded" and latest.content_hash == content_hash:
            continue
        stale.append(originals[original_id])
    return stale


def start_regrade(store: Store, exercise: ExerciseInfo, records: list[SubmissionRecord],
                  created_by: str) -> RegradeJob:
    """Queue every stale submission of ``exercise`` again; returns the job."""
    job = RegradeJob(id=uuid.uuid4().hex[:16], exercise=exercise.slug,
                     content_hash=exercise.content_hash, submission_ids=[],
                     created_at=time.time(), created_by=created_by)
    try:
        for original in out_of_date(records, exercise.content_hash):
            source = store.get_source(original.id)
            if source is not None:
                record = enqueue(exercise, original.learner, source, original.filename,
                                 f"regrade:{original.id}")
                job.submission_ids.append(record.id)
    finally:  # the queue failing half-way still leaves what was queued to follow
        RegradeStore(store).save(job)
    return job
