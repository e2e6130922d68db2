"""Submissions: accepting, attempts, results, history, the sweeper's worklist, callbacks."""

from __future__ import annotations

import hashlib
import json
from typing import Literal, cast

from common.contract import GRADING_QUEUES, broker_prefix
from common.protocol import Verdict
from common.records import (
    LATENCY_BUCKETS,
    LEARNER_PATTERN,
    SUBMISSION_ID_PATTERN,
    Accepted,
    CallbackStatus,
    StartOutcome,
    StoreError,
    SubmissionRecord,
    score_bucket,
)
from common.store.base import StoreBase

# kombu's Redis transport: one list per priority step, named "<queue>\x06\x16<step>" (0: bare).
_PRIORITY_STEPS = (0, 3, 6, 9)


class SubmissionStore(StoreBase):
    """Submissions: accepting, attempts, results, history, the sweeper's worklist, callbacks."""

    def create_submission(
        self,
        record: SubmissionRecord,
        source: str,
        idempotency: tuple[str, str, str] | None = None,
        idempotency_ttl_s: int = 86400,
    ) -> Accepted:
        """Accept a submission, or return the one an earlier request with the same
        ``(caller, key, fingerprint)`` idempotency triple created."""
        idem_key = ""
        idem_value = ""
        if idempotency is not None:
            caller, key, fingerprint = idempotency
            digest = hashlib.sha256(key.encode()).hexdigest()[:32]
            idem_key = self.key("idempotency", caller, digest)
            idem_value = f"{record.id} {fingerprint}"
        fields = record.to_fields()
        fields.pop("created_at", None)
        existing = self._create(
            keys=[self.key("submission", record.id), self.key("submission", record.id, "source"),
                  self.key("learner", record.learner, "submissions"), self.key("counts"),
                  idem_key, self.key("pending")],
            args=[record.id, idem_value, idempotency_ttl_s, source, json.dumps(fields)],
        )
        if existing:
            earlier_id, _, fingerprint = str(existing).partition(" ")
            earlier = self.get_submission(earlier_id)
            if earlier is None:
                raise StoreError(f"idempotency key points at missing submission {earlier_id}")
            assert idempotency is not None
            return Accepted(earlier, created=False,
                            fingerprint_matches=fingerprint == idempotency[2])
        created = self.get_submission(record.id)
        assert created is not None
        return Accepted(created, created=True)

    def get_submission(self, submission_id: str) -> SubmissionRecord | None:
        """The record, or None (also for an id that is not one this store makes)."""
        if not SUBMISSION_ID_PATTERN.fullmatch(submission_id):
            return None
        fields = self._r.hgetall(self.key("submission", submission_id))
        return SubmissionRecord.from_fields(fields) if fields else None

    def get_source(self, submission_id: str) -> str | None:
        """The learner's source code, or None."""
        return cast(str | None, self._r.get(self.key("submission", submission_id, "source")))

    def get_result(self, submission_id: str) -> Verdict | None:
        """The verdict, once graded."""
        raw = self._r.get(self.key("submission", submission_id, "result"))
        return Verdict.model_validate_json(raw) if raw else None

    def start_attempt(self, submission_id: str, worker: str, max_attempts: int) -> StartOutcome:
        """Count a delivery of the grading task and mark the submission running."""
        action = self._start(
            keys=[self.key("submission", submission_id), self.key("counts")],
            args=[max_attempts, worker, self.events_channel()],
        )
        return StartOutcome(action, self.get_submission(submission_id))

    def finish(
        self,
        submission_id: str,
        status: Literal["graded", "failed"],
        verdict: Verdict | None = None,
        error: str | None = None,
    ) -> bool:
        """Record the outcome once: True if this call finished the submission, False if an
        earlier delivery already had (the record is left as it was)."""
        record = self.get_submission(submission_id)
        if record is None:
            raise StoreError(f"no submission {submission_id}")
        fields: dict[str, str] = {}
        checks: dict[str, bool] = {}
        bucket = -1
        score = 0.0
        if verdict is not None:
            score = verdict.score
            fields.update(score=str(verdict.score), max_score=str(verdict.max_score),
                          passed="1" if verdict.full_marks else "0",
                          content_hash=verdict.content_hash)
            for check in verdict.checks:
                if not check.extra_credit:
                    checks[check.name] = checks.get(check.name, True) and check.passed
            bucket = score_bucket(verdict.score, verdict.max_score)
        if error is not None:
            fields["error"] = error
        done = self._finish(
            keys=[self.key("submission", submission_id),
                  self.key("submission", submission_id, "result"), self.key("counts"),
                  self.key("stats", record.exercise), self.key("stats", record.exercise, "scores"),
                  self.key("gradebook"), self.key("latency"), self.key("pending")],
            args=[status, verdict.model_dump_json() if verdict is not None else "",
                  json.dumps(fields), json.dumps(checks) if checks else "{}", bucket,
                  f"{record.learner}\x1f{record.exercise}", score,
                  json.dumps(list(LATENCY_BUCKETS)), self.events_channel()],
        )
        if int(done) < 0:
            raise StoreError(f"no submission {submission_id}")
        return int(done) == 1

    def pending(self, older_than_s: float, limit: int = 1000) -> list[str]:
        """Ids of unfinished submissions accepted more than ``older_than_s`` ago, oldest
        first."""
        cutoff = self._now() - older_than_s
        return list(self._r.zrangebyscore(self.key("pending"), "-inf", cutoff, start=0,
                                          num=limit))

    def claim_sweep(self, ttl_s: float) -> bool:
        """Whether this caller may sweep now (one sweeper per ``ttl_s`` across workers)."""
        return bool(self._r.set(self.key("sweeper"), "1", nx=True,
                                px=max(int(ttl_s * 1000), 1)))

    def unindex(self, submission_id: str) -> None:
        """Drop a finished (or vanished) submission from the sweeper's worklist."""
        self._r.zrem(self.key("pending"), submission_id)

    def messages_naming(self, submission_ids: list[str], unacked: bool = True) -> set[str]:
        """Which of ``submission_ids`` a grading task in the broker names: waiting in a queue,
        or (with ``unacked``) taken by a worker and not yet acknowledged. Reads whole queues:
        meant for the sweeper, once per sweep, and for an idempotent replay."""
        if not submission_ids:
            return set()
        base = broker_prefix(self.prefix)
        pipe = self._r.pipeline(transaction=False)
        for queue in GRADING_QUEUES:
            for step in _PRIORITY_STEPS:  # kombu keeps one list per priority step
                pipe.lrange(base + (queue if step == 0 else f"{queue}\x06\x16{step}"), 0, -1)
        if unacked:
            pipe.hvals(base + "unacked")
        blob = "\n".join(m for part in pipe.execute() for m in part)
        return {i for i in submission_ids if i in blob}

    def set_callback_state(self, submission_id: str, status: CallbackStatus, attempts: int,
                           error: str | None = None) -> None:
        """Record how delivering the result to the callback URL went."""
        key = self.key("submission", submission_id)
        self._r.hset(key, mapping={"callback_status": status,
                                       "callback_attempts": str(attempts)})
        if error is None:
            self._r.hdel(key, "callback_error")
        else:
            self._r.hset(key, "callback_error", error[:500])

    def history(self, learner: str, limit: int = 50) -> list[SubmissionRecord]:
        """A learner's submissions, newest first (none for a name that is not a learner id)."""
        if not LEARNER_PATTERN.fullmatch(learner):
            return []
        ids = self._r.zrevrange(self.key("learner", learner, "submissions"), 0, limit - 1)
        pipe = self._r.pipeline(transaction=False)
        for submission_id in ids:
            pipe.hgetall(self.key("submission", submission_id))
        return [SubmissionRecord.from_fields(f) for f in pipe.execute() if f]
