"""The records kept in Redis, as typed models: what both sides read and write.

Torch-free, like all of :mod:`common`. The keys they live under are the store's business
(:mod:`common.store`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.spec import Exercise

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
                CaseInfo(name=c.name, description=c.description, seed=c.seed,
                         args=c.args_as_written())
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


def hash_token(token: str) -> str:
    """The SHA-256 under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_submission_id() -> str:
    """A fresh, unguessable submission id."""
    return uuid.uuid4().hex


def score_bucket(score: float, max_score: float) -> int:
    """The histogram bucket of a score: tenths of the maximum, full marks in bucket 10."""
    if max_score <= 0:
        return 0
    fraction = max(0.0, min(score / max_score, 1.0))
    if fraction >= 1.0:
        return SCORE_BUCKETS - 1
    return min(int(fraction * 10), SCORE_BUCKETS - 2)
