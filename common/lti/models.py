"""What crosses Redis for LTI: registrations, grade targets, passback states, courses."""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

ScorePolicy = Literal["best", "latest"]
SCORE_POLICIES: tuple[ScorePolicy, ...] = ("best", "latest")
PassbackStatus = Literal["pending", "delivered", "failed"]

AGS_SCORE_SCOPE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_LINEITEM_SCOPE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
NRPS_SCOPE: Final = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def check_url(value: str) -> str:
    """An absolute http(s) URL (platform endpoints); anything else is refused."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Registration(BaseModel):
    """A platform (LMS) the tool trusts: what an administrator typed into ``grader lti
    register``, from the values the LMS shows when the tool is added."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(min_length=1, max_length=500)
    client_id: str = Field(min_length=1, max_length=500)
    deployment_ids: list[str] = Field(min_length=1)
    auth_url: str
    token_url: str
    jwks_url: str
    # The "aud" of our client assertion at the token endpoint, when the platform wants one
    # other than the token URL (Moodle and Canvas do not).
    audience: str | None = None
    # Origins allowed to frame the grader for this platform's learners, beyond the issuer's
    # and the login URL's (Canvas: the institution's own domain).
    frame_origins: list[str] = Field(default_factory=list)
    name: str = ""
    created_at: float = 0.0

    _urls = field_validator("auth_url", "token_url", "jwks_url")(check_url)

    @field_validator("frame_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        return [origin_of(check_url(v)) for v in values]

    @field_validator("deployment_ids")
    @classmethod
    def _deployments(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values if v.strip()]
        if not cleaned:
            raise ValueError("at least one deployment id is needed")
        return cleaned

    @property
    def key(self) -> str:
        """The registration's field in ``P:lti:registrations``."""
        return f"{self.issuer}\x1f{self.client_id}"

    def allowed_frame_origins(self) -> list[str]:
        """Origins that may show the grader in a frame for this platform."""
        origins = [origin_of(self.auth_url), *self.frame_origins]
        if self.issuer.startswith(("http://", "https://")):
            origins.insert(0, origin_of(self.issuer))
        return sorted(set(origins))


class LtiPerson(BaseModel):
    """The platform user behind an account made by a launch."""

    issuer: str
    sub: str
    name: str = ""
    email: str = ""


class GradeTarget(BaseModel):
    """Where a learner's score for an exercise goes: one line item of one platform, for one
    user, learnt from a learner's launch with an AGS claim. A launch that names no line item
    but lets the tool manage them (``lineitems`` and the lineitem scope) gets one made by the
    worker, found again by its resource link and tag (``resolved``)."""

    issuer: str
    client_id: str
    deployment_id: str
    context_id: str
    resource_link_id: str
    lineitem: str | None = None
    lineitems: str | None = None
    resolved: str | None = None
    label: str = ""
    score_maximum: float = 0.0
    user_id: str
    learner: str
    exercise: str
    updated_at: float = 0.0

    @field_validator("lineitem", "lineitems", "resolved")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @property
    def key(self) -> str:
        """The target's field in the learner's targets and passback states."""
        return self.lineitem or f"{self.lineitems}#{self.resource_link_id}"

    @property
    def tag(self) -> str:
        """The tag of a line item the grader makes."""
        return f"grader:{self.exercise}"


class PassbackState(BaseModel):
    """How posting a learner's score to one line item went (shown to instructors)."""

    status: PassbackStatus
    attempts: int = 0
    error: str | None = None
    score: float | None = None
    max_score: float | None = None
    submission_id: str | None = None
    updated_at: float = 0.0


class Course(BaseModel):
    """A platform's course (LTI context) that launched the grader, with its score policy."""

    issuer: str
    client_id: str
    context_id: str
    title: str = ""
    policy: ScorePolicy = "best"
    memberships_url: str | None = None

    @property
    def key(self) -> str:
        """The course's field in ``P:lti:courses``."""
        return f"{self.issuer}\x1f{self.context_id}"
