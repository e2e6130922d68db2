"""The Redis store shared by the web process and the workers: the one module that knows the keys.

Torch-free: the web process imports it. Everything crossing Redis is a typed model defined here
(:class:`SubmissionRecord`, :class:`TokenRecord`, :class:`StoredExercise`...), and every state
change that must happen exactly once (accepting a submission, starting an attempt, finishing)
is one Lua script, so a redelivered task or a retried request cannot count twice.

Key layout (``P`` is the key prefix, ``grader`` by default, ``GRADER_KEY_PREFIX``):

=====================================  =======  ==============================================
key                                    type     holds
=====================================  =======  ==============================================
``P:submission:<id>``                  hash     the :class:`SubmissionRecord` (fields as text)
``P:submission:<id>:source``           string   the learner's source code (kept)
``P:submission:<id>:result``           string   the :class:`~common.protocol.Verdict` as JSON
``P:learner:<learner>:submissions``    zset     submission ids scored by time accepted
``P:idempotency:<caller>:<key>``       string   ``"<id> <fingerprint>"``, expires (24 h)
``P:pending``                          zset     ids of submissions not yet finished, scored by
                                                time accepted (the sweeper's worklist)
``P:sweeper``                          string   a sweep is under way (expires)
``P:counts``                           hash     submissions by status (queued, running...)
``P:latency``                          hash     accept-to-finish latency histogram buckets
``P:stats:<slug>``                     hash     ``graded``, ``check:<name>:passed|total``
``P:stats:<slug>:scores``              hash     score bucket (0..10, tenths of max) -> count
``P:gradebook``                        hash     ``<learner>\\x1f<slug>`` -> best score
``P:token:<sha256>``                   hash     a :class:`TokenRecord` (the token is not kept)
``P:tokens``                           hash     token id -> sha256 (to list and revoke)
``P:exercises``                        hash     slug -> content hash of uploaded exercises
``P:exercises:version``                int      bumped whenever the registry changes
``P:exercise:<slug>``                  string   a :class:`StoredExercise` (info + bundle)
``P:exercise:<slug>:lock``             string   an upload of this slug is being validated
``P:upload:<id>``                      string   an :class:`ExerciseBundle` awaiting validation
``P:upload:<id>:report``               string   its :class:`ValidationOutcome`
``P:workers``                          set      names of workers that sent a heartbeat
``P:worker:<name>``                    string   a :class:`WorkerBeat`, expires
``P:broker:*``                         (kombu)  Celery's queues (``cpu``, ``gpu``, ``callbacks``)
                                                and unacked messages
``P:ratelimit:*``                      (limits) the web's rate-limit counters
=====================================  =======  ==============================================

Times are Redis server time (``TIME``), so the web and the workers share one clock.
The deployment runs Redis with append-only persistence: nothing here expires except the
idempotency keys, staged uploads, locks and heartbeats.

The task contract between the web and the workers (queue names, task names, routing) is in
:mod:`common.contract`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

import redis
from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.contract import GRADING_QUEUES, broker_prefix
from common.protocol import Verdict
from common.spec import Exercise

# kombu's Redis transport: one list per priority step, named "<queue>\x06\x16<step>" (0: bare).
_PRIORITY_STEPS = (0, 3, 6, 9)


# --- models -----------------------------------------------------------------------------------

SubmissionStatus = Literal["queued", "running", "graded", "failed"]
FINAL_STATUSES: tuple[SubmissionStatus, ...] = ("graded", "failed")
STATUSES: tuple[SubmissionStatus, ...] = ("queued", "running", "graded", "failed")
Role = Literal["learner", "instructor", "lms"]
ROLES: tuple[Role, ...] = ("learner", "instructor", "lms")
CallbackStatus = Literal["pending", "delivered", "failed"]

# \Z, not $: "$" also matches before a trailing newline, and WTForms' Regexp uses re.match.
LEARNER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\Z")
#: What :func:`new_submission_id` makes; anything else never reaches a Redis key.
SUBMISSION_ID_PATTERN = re.compile(r"^[0-9a-f]{32}\Z")
#: Upper bounds (seconds) of the latency histogram; the last bucket is +Inf.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SCORE_BUCKETS = 11  # tenths of the maximum, and full marks on its own


class StoreError(Exception):
    """Redis holds something this module did not write (a corrupt or foreign record)."""


class SubmissionRecord(BaseModel):
    """One submission as the store keeps it (the verdict is kept apart, see ``result``)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    exercise: str
    learner: str
    status: SubmissionStatus
    queue: str
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    worker: str | None = None
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    content_hash: str | None = None
    error: str | None = None
    filename: str | None = None
    submitted_by: str | None = None
    callback_url: str | None = None
    callback_status: CallbackStatus | None = None
    callback_attempts: int = 0
    callback_error: str | None = None

    @property
    def finished(self) -> bool:
        """True once graded or failed: nothing will change the result any more."""
        return self.status in FINAL_STATUSES

    def to_fields(self) -> dict[str, str]:
        """The record as Redis hash fields (None is left out)."""
        fields: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, bool):
                fields[name] = "1" if value else "0"
            else:
                fields[name] = str(value)
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> SubmissionRecord:
        """Parse a Redis hash written by this module."""
        try:
            return cls.model_validate(dict(fields))
        except ValueError as exc:
            raise StoreError(f"malformed submission record: {exc}") from exc


class TokenRecord(BaseModel):
    """An API token's holder and role; the token itself is stored only as its SHA-256."""

    id: str
    role: Role
    name: str
    learner: str | None = None  # learner tokens act for this learner only
    created_at: float = 0.0


class CaseInfo(BaseModel):
    """A visible case as a learner sees it: its name, description and input specification."""

    name: str
    description: str = ""
    seed: int = 0
    args: dict[str, Any] = Field(default_factory=dict)


class ExerciseInfo(BaseModel):
    """What the web shows of an exercise; built from the course folder or an upload."""

    slug: str
    title: str
    module: str
    order: int = 0
    points: float
    device: Literal["cpu", "cuda"]
    function: str
    signature: str
    time_limit_s: float
    statement: str
    starter: str
    visible_cases: list[CaseInfo]
    content_hash: str
    origin: Literal["course", "upload"] = "course"
    # The checks of the learning objective (a submission that fails one scores at most half).
    objective: list[str] = Field(default_factory=list)

    @classmethod
    def from_exercise(cls, exercise: Exercise, origin: Literal["course", "upload"]) -> (
        ExerciseInfo
    ):
        """The learner-facing view of a loaded exercise (no hidden cases, no golden files)."""
        return cls(
            slug=exercise.slug, title=exercise.title, module=exercise.module,
            order=exercise.order, points=exercise.points, device=exercise.device,
            function=exercise.function, signature=exercise.signature,
            time_limit_s=exercise.time_limit_s, statement=exercise.statement,
            starter=exercise.starter,
            visible_cases=[
                CaseInfo(name=c.name, description=c.description, seed=c.seed, args=c.args)
                for c in exercise.visible_cases
            ],
            content_hash=exercise.content_hash, origin=origin,
            objective=list(exercise.objective),
        )


SLUG_PATTERN = re.compile(r"^(?=.{1,100}\Z)[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_BUNDLE_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
MAX_BUNDLE_FILES = 200
MAX_BUNDLE_BYTES = 4 * 2**20


class ExerciseBundle(BaseModel):
    """An exercise as uploaded: its folder's text files by relative path, and its reference."""

    model_config = ConfigDict(extra="forbid")

    slug: str
    files: dict[str, str]
    reference: str

    @field_validator("slug")
    @classmethod
    def _plain_slug(cls, slug: str) -> str:
        # The slug names a folder and Redis keys: checked before anything is written.
        if not SLUG_PATTERN.fullmatch(slug):
            raise ValueError("a slug is 1-100 lowercase letters and digits joined by single "
                             "hyphens")
        return slug

    @field_validator("files")
    @classmethod
    def _safe_paths(cls, files: dict[str, str]) -> dict[str, str]:
        if len(files) > MAX_BUNDLE_FILES:
            raise ValueError(f"a bundle holds at most {MAX_BUNDLE_FILES} files")
        for path in files:
            parts = PurePosixPath(path).parts
            if not _BUNDLE_PATH.fullmatch(path) or ".." in parts or "__pycache__" in parts:
                raise ValueError(f"{path!r} is not a relative path of plain names")
        return files

    def size(self) -> int:
        """Bytes of text in the bundle."""
        return sum(len(t.encode()) for t in self.files.values()) + len(self.reference.encode())

    def write_course(self, root: Path) -> Path:
        """Write the bundle as a one-exercise course folder under ``root``; returns ``root``."""
        folder = root / "exercises" / self.slug
        for relative, text in self.files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        reference = root / "reference" / f"{self.slug}.py"
        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_text(self.reference, encoding="utf-8")
        return root


class StoredExercise(BaseModel):
    """An exercise added or replaced through the API: what to show, and the files to grade."""

    info: ExerciseInfo
    bundle: ExerciseBundle
    uploaded_at: float
    uploaded_by: str


class ValidationOutcome(BaseModel):
    """What validating an uploaded exercise found (``grader exercises validate``'s report)."""

    ok: bool
    lines: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    content_hash: str = ""


class WorkerBeat(BaseModel):
    """A worker's heartbeat: it is alive and consumes these queues."""

    name: str
    queues: list[str]
    pid: int
    at: float


class CheckRate(BaseModel):
    """How often one check passed, counted once per graded submission."""

    name: str
    passed: int
    total: int

    @property
    def rate(self) -> float:
        """Passed over total (0 when nothing was graded)."""
        return self.passed / self.total if self.total else 0.0


class ExerciseStats(BaseModel):
    """Per-exercise statistics over graded submissions."""

    exercise: str
    graded: int
    checks: list[CheckRate]
    score_buckets: list[int]  # index i: scores in [i/10, (i+1)/10) of max; index 10: full marks


@dataclass(frozen=True)
class StartOutcome:
    """What a task should do with a delivery: ``run`` it, or it is ``done``, ``missing`` or
    ``exhausted`` (delivered more often than the cap)."""

    action: Literal["run", "done", "missing", "exhausted"]
    record: SubmissionRecord | None


@dataclass(frozen=True)
class Accepted:
    """The result of accepting a submission: the record, and False when an earlier request with
    the same idempotency key had already created it."""

    record: SubmissionRecord
    created: bool
    fingerprint_matches: bool = True


# --- Lua scripts (atomic state changes) -------------------------------------------------------

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: record, source, history, counts, idempotency ('' for none), pending
# ARGV: id, idempotency value, idempotency ttl, source, fields (JSON)
_CREATE = _NOW + """
if KEYS[5] ~= '' then
  local existing = redis.call('GET', KEYS[5])
  if existing then return existing end
  redis.call('SET', KEYS[5], ARGV[2], 'EX', tonumber(ARGV[3]))
end
local fields = cjson.decode(ARGV[5])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
redis.call('HSET', KEYS[1], 'created_at', string.format('%.6f', now))
redis.call('SET', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('ZADD', KEYS[6], now, ARGV[1])
redis.call('HINCRBY', KEYS[4], 'queued', 1)
return ''
"""

# KEYS: record, counts.  ARGV: max attempts, worker name
_START = _NOW + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'graded' or status == 'failed' then return 'done' end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts > tonumber(ARGV[1]) then return 'exhausted' end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running')
  redis.call('HINCRBY', KEYS[2], 'queued', -1)
  redis.call('HINCRBY', KEYS[2], 'running', 1)
end
redis.call('HSET', KEYS[1], 'started_at', string.format('%.6f', now), 'worker', ARGV[2])
return 'run'
"""

# KEYS: record, result, counts, stats, scores, gradebook, latency, pending
# ARGV: status, result JSON ('' for none), fields (JSON), checks (JSON name -> passed),
#       score bucket (-1 for none), gradebook field, score, latency bounds (JSON)
_FINISH = _NOW + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status == 'graded' or status == 'failed' then return 0 end
redis.call('ZREM', KEYS[8], KEYS[1]:match('([^:]+)$'))
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', string.format('%.6f', now))
for k, v in pairs(cjson.decode(ARGV[3])) do redis.call('HSET', KEYS[1], k, v) end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('HINCRBY', KEYS[3], status, -1)
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
if ARGV[1] == 'graded' then
  redis.call('HINCRBY', KEYS[4], 'graded', 1)
  for name, passed in pairs(cjson.decode(ARGV[4])) do
    redis.call('HINCRBY', KEYS[4], 'check:' .. name .. ':total', 1)
    if passed then redis.call('HINCRBY', KEYS[4], 'check:' .. name .. ':passed', 1) end
  end
  redis.call('HINCRBY', KEYS[5], ARGV[5], 1)
  local best = redis.call('HGET', KEYS[6], ARGV[6])
  if (not best) or tonumber(ARGV[7]) > tonumber(best) then
    redis.call('HSET', KEYS[6], ARGV[6], ARGV[7])
  end
end
local created = tonumber(redis.call('HGET', KEYS[1], 'created_at') or now)
local latency = math.max(now - created, 0)
local bucket = '+Inf'
for _, bound in ipairs(cjson.decode(ARGV[8])) do
  if latency <= bound then bucket = tostring(bound) break end
end
redis.call('HINCRBY', KEYS[7], bucket, 1)
redis.call('HINCRBY', KEYS[7], 'count', 1)
redis.call('HINCRBYFLOAT', KEYS[7], 'sum', latency)
return 1
"""


def _bound_label(bound: float) -> str:
    # The label Lua's tostring() gives a bound (integers print without a decimal point).
    return str(int(bound)) if bound == int(bound) else repr(bound)


def hash_token(token: str) -> str:
    """The SHA-256 under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_submission_id() -> str:
    """A fresh, unguessable submission id."""
    return uuid.uuid4().hex


class Store:
    """Typed access to the grader's Redis keys. Safe to share between threads."""

    def __init__(self, client: redis.Redis, prefix: str = "grader") -> None:
        self.client = client
        # redis-py's sync methods are annotated as returning "Awaitable | Any"; the store
        # parses every reply into a typed model, so it talks to Redis through an untyped view.
        self._r: Any = client
        self.prefix = prefix
        self._create = client.register_script(_CREATE)
        self._start = client.register_script(_START)
        self._finish = client.register_script(_FINISH)

    @classmethod
    def from_url(cls, url: str, prefix: str = "grader") -> Store:
        """A store on the Redis at ``url`` (``redis://host:port/db``)."""
        client = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        return cls(client, prefix)

    def key(self, *parts: str) -> str:
        """A key of this store's layout, e.g. ``key("submission", id)``."""
        return ":".join((self.prefix, *parts))

    def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False

    # --- submissions --------------------------------------------------------------------------

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
            args=[max_attempts, worker],
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
                  json.dumps(list(LATENCY_BUCKETS))],
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

    def counts(self) -> dict[str, int]:
        """Submissions by status."""
        raw = self._r.hgetall(self.key("counts"))
        return {status: int(raw.get(status, 0)) for status in STATUSES}

    def latency(self) -> tuple[list[tuple[float, int]], int, float]:
        """The latency histogram: (upper bound, count) per bucket (the last bound +Inf),
        the total count and the sum of latencies."""
        raw = self._r.hgetall(self.key("latency"))
        buckets = [(b, int(raw.get(_bound_label(b), 0))) for b in LATENCY_BUCKETS]
        buckets.append((float("inf"), int(raw.get("+Inf", 0))))
        return buckets, int(raw.get("count", 0)), float(raw.get("sum", 0.0))

    def stats(self, slug: str) -> ExerciseStats:
        """Pass rate per check and the score histogram of one exercise."""
        raw = self._r.hgetall(self.key("stats", slug))
        names = sorted({k[len("check:"):k.rindex(":")] for k in raw if k.startswith("check:")})
        checks = [
            CheckRate(name=n, passed=int(raw.get(f"check:{n}:passed", 0)),
                      total=int(raw.get(f"check:{n}:total", 0)))
            for n in names
        ]
        scores = self._r.hgetall(self.key("stats", slug, "scores"))
        return ExerciseStats(
            exercise=slug, graded=int(raw.get("graded", 0)), checks=checks,
            score_buckets=[int(scores.get(str(i), 0)) for i in range(SCORE_BUCKETS)],
        )

    def gradebook(self) -> dict[tuple[str, str], float]:
        """Best score by (learner, exercise)."""
        raw = self._r.hgetall(self.key("gradebook"))
        result = {}
        for field, value in raw.items():
            learner, _, slug = field.partition("\x1f")
            result[(learner, slug)] = float(value)
        return result

    # --- tokens -------------------------------------------------------------------------------

    def create_token(self, role: Role, name: str, learner: str | None = None) -> tuple[
        str, TokenRecord
    ]:
        """Create a token; returns it (shown once, never stored) and its record."""
        token_id = secrets.token_hex(4)
        token = f"grd_{token_id}_{secrets.token_urlsafe(24)}"
        now = self._now()
        record = TokenRecord(id=token_id, role=role, name=name, learner=learner, created_at=now)
        digest = hash_token(token)
        fields = {k: str(v) for k, v in record.model_dump().items() if v is not None}
        pipe = self._r.pipeline()
        pipe.hset(self.key("token", digest), mapping=fields)
        pipe.hset(self.key("tokens"), token_id, digest)
        pipe.execute()
        return token, record

    def lookup_token(self, token: str) -> TokenRecord | None:
        """The record of a presented token, or None if unknown or revoked."""
        fields = self._r.hgetall(self.key("token", hash_token(token)))
        return TokenRecord.model_validate(fields) if fields else None

    def revoke_token(self, token_id: str) -> bool:
        """Revoke by token id; False if there is no such token."""
        digest = self._r.hget(self.key("tokens"), token_id)
        if not digest:
            return False
        pipe = self._r.pipeline()
        pipe.delete(self.key("token", digest))
        pipe.hdel(self.key("tokens"), token_id)
        pipe.execute()
        return True

    def list_tokens(self) -> list[TokenRecord]:
        """Every live token's record, oldest first."""
        digests = self._r.hgetall(self.key("tokens"))
        pipe = self._r.pipeline(transaction=False)
        for digest in digests.values():
            pipe.hgetall(self.key("token", digest))
        records = [TokenRecord.model_validate(f) for f in pipe.execute() if f]
        return sorted(records, key=lambda r: r.created_at)

    # --- the exercise registry ----------------------------------------------------------------

    def put_exercise(self, stored: StoredExercise) -> None:
        """Add or replace an uploaded exercise (it shadows a course exercise of the same slug)."""
        pipe = self._r.pipeline()
        pipe.set(self.key("exercise", stored.info.slug), stored.model_dump_json())
        pipe.hset(self.key("exercises"), stored.info.slug, stored.info.content_hash)
        pipe.incr(self.key("exercises", "version"))
        pipe.execute()

    def get_exercise(self, slug: str) -> StoredExercise | None:
        """An uploaded exercise, or None (then the course folder has it, or nobody)."""
        raw = self._r.get(self.key("exercise", slug))
        return StoredExercise.model_validate_json(raw) if raw else None

    def uploaded_exercises(self) -> list[StoredExercise]:
        """Every uploaded exercise."""
        slugs = sorted(self._r.hkeys(self.key("exercises")))
        raws = self._r.mget([self.key("exercise", s) for s in slugs]) if slugs else []
        return [StoredExercise.model_validate_json(r) for r in raws if r]

    def registry_version(self) -> int:
        """A number that changes whenever an uploaded exercise is added or replaced."""
        return int(self._r.get(self.key("exercises", "version")) or 0)

    def lock_exercise(self, slug: str, ttl_s: int) -> bool:
        """Claim the right to validate an upload of ``slug``; False if one is in progress."""
        return bool(self._r.set(self.key("exercise", slug, "lock"), "1", nx=True, ex=ttl_s))

    def unlock_exercise(self, slug: str) -> None:
        """Release :meth:`lock_exercise`."""
        self._r.delete(self.key("exercise", slug, "lock"))

    def stage_upload(self, bundle: ExerciseBundle, ttl_s: int) -> str:
        """Keep a bundle for the validation task; returns its upload id."""
        upload_id = uuid.uuid4().hex
        self._r.set(self.key("upload", upload_id), bundle.model_dump_json(), ex=ttl_s)
        return upload_id

    def get_upload(self, upload_id: str) -> ExerciseBundle | None:
        """A staged bundle, or None once expired."""
        raw = self._r.get(self.key("upload", upload_id))
        return ExerciseBundle.model_validate_json(raw) if raw else None

    def put_report(self, upload_id: str, outcome: ValidationOutcome, ttl_s: int) -> None:
        """The validation task's report on a staged bundle."""
        self._r.set(self.key("upload", upload_id, "report"), outcome.model_dump_json(),
                        ex=ttl_s)

    def get_report(self, upload_id: str) -> ValidationOutcome | None:
        """The report, once the validation task has written it."""
        raw = self._r.get(self.key("upload", upload_id, "report"))
        return ValidationOutcome.model_validate_json(raw) if raw else None

    # --- workers and queues -------------------------------------------------------------------

    def beat(self, name: str, queues: list[str], pid: int, ttl_s: int) -> None:
        """A worker says it is alive."""
        beat = WorkerBeat(name=name, queues=queues, pid=pid, at=self._now())
        pipe = self._r.pipeline()
        pipe.set(self.key("worker", name), beat.model_dump_json(), ex=ttl_s)
        pipe.sadd(self.key("workers"), name)
        pipe.execute()

    def forget_worker(self, name: str) -> None:
        """A worker stopping cleanly."""
        pipe = self._r.pipeline()
        pipe.delete(self.key("worker", name))
        pipe.srem(self.key("workers"), name)
        pipe.execute()

    def workers(self) -> list[WorkerBeat]:
        """Workers whose heartbeat has not expired."""
        names = sorted(self._r.smembers(self.key("workers")))
        if not names:
            return []
        raws = self._r.mget([self.key("worker", n) for n in names])
        gone = [n for n, r in zip(names, raws, strict=True) if not r]
        if gone:
            self._r.srem(self.key("workers"), *gone)
        return [WorkerBeat.model_validate_json(r) for r in raws if r]

    def queue_depth(self, queue: str) -> int:
        """Messages waiting in a Celery queue (not counting those a worker has reserved)."""
        return int(self._r.llen(broker_prefix(self.prefix) + queue))

    def now(self) -> float:
        """Redis server time (the clock every record's times use)."""
        return self._now()

    def _now(self) -> float:
        seconds, micros = self._r.time()
        return float(seconds) + float(micros) / 1e6


def score_bucket(score: float, max_score: float) -> int:
    """The histogram bucket of a score: tenths of the maximum, full marks in bucket 10."""
    if max_score <= 0:
        return 0
    fraction = max(0.0, min(score / max_score, 1.0))
    if fraction >= 1.0:
        return SCORE_BUCKETS - 1
    return min(int(fraction * 10), SCORE_BUCKETS - 2)
