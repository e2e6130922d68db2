"""Request and response models of the REST API v1 (validated by spectree, documented in the
OpenAPI document it serves)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from spectree.model_adapter.pydantic_adapter import BaseFile

from common.callback_policy import check_callback_syntax
from common.protocol import CaseReport, CheckResult, VerdictStatus
from common.records import (
    LEARNER_PATTERN,
    CaseInfo,
    ExerciseInfo,
    SubmissionRecord,
    SubmissionStatus,
    ValidationOutcome,
)

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_learner(value: str | None) -> str | None:
    if value is not None and not LEARNER_PATTERN.fullmatch(value):
        raise ValueError("a learner id is 1-128 letters, digits and . _ @ + -")
    return value


def _check_callback(value: str | None) -> str | None:
    # The address policy (which needs the app's allow-list) is checked by the view.
    return None if value is None else check_callback_syntax(value)


# --- errors -------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong: a stable code and a message a person can act on."""

    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorDetail


# --- exercises ----------------------------------------------------------------------------


class ExerciseSummary(BaseModel):
    """An exercise in the list."""

    slug: str
    title: str
    module: str
    points: float
    device: Literal["cpu", "cuda"]

    @classmethod
    def of(cls, info: ExerciseInfo) -> ExerciseSummary:
        """The summary of an exercise."""
        return cls(slug=info.slug, title=info.title, module=info.module, points=info.points,
                   device=info.device)


class ExerciseList(BaseModel):
    """Every exercise, in the course notebook's order."""

    exercises: list[ExerciseSummary]


class ExerciseDetail(BaseModel):
    """What a learner needs to attempt an exercise."""

    slug: str
    title: str
    module: str
    points: float
    device: Literal["cpu", "cuda"]
    function: str
    signature: str
    time_limit_s: float
    statement: str
    starter: str
    visible_cases: list[CaseInfo]
    content_hash: str
    origin: Literal["course", "upload"]

    @classmethod
    def of(cls, info: ExerciseInfo) -> ExerciseDetail:
        """The detail of an exercise."""
        return cls.model_validate(info.model_dump(exclude={"order"}))


class ExerciseBundleIn(_Request):
    """An exercise to create or replace: the files of its folder by relative path
    (``exercise.yaml``, ``statement.md``, ``starter.py``, ``golden/*.py``) and its reference
    solution's source."""

    files: dict[str, str] = Field(min_length=1)
    reference: str = Field(min_length=1)


class ExerciseSaved(BaseModel):
    """The exercise as now live, and the report that let it in."""

    exercise: ExerciseDetail
    created: bool
    # The worker's report as the store keeps it (one model, in common/, for both sides).
    validation: ValidationOutcome


class CheckStat(BaseModel):
    """How often a check passed, over graded submissions."""

    name: str
    passed: int
    total: int
    pass_rate: float


class ScoreBucket(BaseModel):
    """Graded submissions whose score fell in [low, high) of the maximum (full marks: 1-1)."""

    low: float
    high: float
    count: int


class ExerciseStatsView(BaseModel):
    """Pass rate per check and the score distribution of one exercise."""

    exercise: str
    graded: int
    checks: list[CheckStat]
    scores: list[ScoreBucket]


# --- submissions --------------------------------------------------------------------------


class SubmissionIn(_Request):
    """A submission as JSON: the exercise and the code (a learner token may leave out
    ``learner``; an LMS or instructor token names the learner)."""

    exercise: str = Field(pattern=SLUG, max_length=100)
    code: str
    learner: str | None = None
    callback_url: str | None = None

    check_learner = field_validator("learner")(_check_learner)
    check_callback = field_validator("callback_url")(_check_callback)


class SubmissionUpload(BaseModel):
    """A submission as multipart form data, with the code as a ``.py`` or ``.ipynb`` file."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    exercise: str = Field(pattern=SLUG, max_length=100)
    file: BaseFile
    learner: str | None = None
    callback_url: str | None = None

    check_learner = field_validator("learner")(_check_learner)
    check_callback = field_validator("callback_url")(_check_callback)


class IdempotencyHeaders(BaseModel):
    """``Idempotency-Key``: the same key (from the same token) returns the same submission."""

    model_config = ConfigDict(extra="allow")

    idempotency_key: str | None = Field(default=None, alias="Idempotency-Key", min_length=1,
                                        max_length=255)


class WaitQuery(_Request):
    """``wait``: hold the request up to this many seconds until the submission is finished."""

    wait: float = Field(default=0.0, ge=0.0)


class HistoryQuery(_Request):
    """``limit``: how many of the newest submissions to list."""

    limit: int = Field(default=50, ge=1, le=500)


class SubmissionAccepted(BaseModel):
    """A submission accepted for grading."""

    id: str
    status: SubmissionStatus
    exercise: str
    learner: str
    url: str


class CallbackView(BaseModel):
    """How delivering the result to ``callback_url`` went."""

    url: str
    status: Literal["pending", "delivered", "failed"] | None
    attempts: int
    error: str | None


class SubmissionSummary(BaseModel):
    """A submission in a learner's history."""

    id: str
    exercise: str
    learner: str
    status: SubmissionStatus
    score: float | None
    max_score: float | None
    passed: bool | None
    created_at: float
    finished_at: float | None

    @classmethod
    def of(cls, record: SubmissionRecord) -> SubmissionSummary:
        """The summary of a record."""
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class SubmissionView(SubmissionSummary):
    """A submission: where it is, and once graded its score, per-check results and output.

    ``status`` is ``graded`` once the grader has a verdict (full marks or not: see ``passed``)
    and ``failed`` when the grader could not grade it (``error`` says why).
    """

    queue: str
    attempts: int
    started_at: float | None
    content_hash: str | None
    error: str | None
    checks: list[CheckResult]
    cases: list[CaseReport]
    stdout: str
    notices: list[str]
    callback: CallbackView | None
    # The verdict's own status once graded: passed, failed, error, or tampering (a run was
    # stopped for reaching into the grader; ``tampering`` says what it did, and where).
    verdict: VerdictStatus | None = None
    tampering: str | None = None
