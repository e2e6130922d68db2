"""Verifying a launch (the platform's signed ``id_token`` POST to ``/lti/launch``).

pylti1p3 checks the signature against the platform's JWKS, the deployment and the message's
shape; :func:`verify_launch` adds what it leaves out and refuses with a :class:`LaunchRefused`
whose message names the problem for the administrator: the state must be one our login issued
(in Redis, unused, and the browser's cookie must match), ``aud``/``azp`` must name our client id,
``exp`` and ``iat`` must be present and sane, the nonce must be the one issued with the state,
the algorithm must be RS256, the message type one we handle. Nothing is stored and nobody is
signed in until every check passed; then the caller consumes the state and nonce atomically
(:meth:`~grader.lti.states.LaunchRecords.consume`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from flask import request
from pylti1p3.exception import (
    LtiException,
    LtiInvalidNonceException,
    LtiKeyException,
    OIDCException,
    ToolConfException,
)
from pylti1p3.roles import (
    DesignerRole,
    StaffRole,
    StudentRole,
    TeacherRole,
    TeachingAssistantRole,
)

from common.lti.keys import ToolKeys
from common.lti.models import Registration
from common.lti.services import TimeoutSession
from common.lti.store import LtiStore
from grader.lti.states import LaunchRecords, LoginState
from grader.lti.tool import (
    CookieJar,
    FormRequest,
    KeySets,
    Launch,
    RedisSessionService,
    ToolConf,
)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest")
# Clocks differ a little between the platform and us.
LEEWAY_S = 60
MAX_TOKEN_AGE_S = 3600


class LaunchRefused(Exception):
    """A launch the grader refuses: an HTTP status and a message for the administrator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CookiesBlocked(Exception):
    """The launch's state is valid but the browser did not send its cookie back: a browser
    that blocks third-party cookies in the LMS's frame. The login can restart in a window."""

    def __init__(self, login: LoginState) -> None:
        super().__init__("the browser did not send the grader's cookie inside the LMS's frame")
        self.login = login


@dataclass(frozen=True)
class VerifiedLaunch:
    """A launch that passed every check (its state and nonce still to be consumed)."""

    registration: Registration
    claims: dict[str, Any]
    state: str
    nonce: str

    @property
    def message_type(self) -> str:
        """``LtiResourceLinkRequest`` or ``LtiDeepLinkingRequest``."""
        return str(self.claims[CLAIM + "message_type"])

    @property
    def deployment_id(self) -> str:
        """The deployment the launch came through."""
        return str(self.claims[CLAIM + "deployment_id"])

    @property
    def sub(self) -> str:
        """The platform's id of the user."""
        return str(self.claims["sub"])

    @property
    def roles(self) -> list[str]:
        """The LIS roles of the user in this context."""
        return [str(r) for r in self.claims.get(CLAIM + "roles", [])]

    @property
    def is_instructor(self) -> bool:
        """Teachers, teaching assistants, content developers and administrators."""
        return any(role(self.claims).check() for role in (
            TeacherRole, TeachingAssistantRole, DesignerRole, StaffRole))

    @property
    def is_learner(self) -> bool:
        """Learners (and members) of the context."""
        return bool(StudentRole(self.claims).check())  # type: ignore[no-untyped-call]

    def claim(self, name: str) -> dict[str, Any]:
        """An object-valued claim of the LTI namespace (empty when absent or not an object)."""
        value = self.claims.get(name if name.startswith("https://") else CLAIM + name)
        return value if isinstance(value, dict) else {}


# The library's messages, said the way an administrator can act on them.
_EXPLAINED = {
    "Registration not found.": "the issuer and client id of this launch are not registered "
                               "with the grader (run 'grader lti register')",
    "Client id not registered for this issuer": "the id_token's client id (aud) is not the "
                                                "one registered for this issuer",
    "Invalid Nonce.": "the id_token's nonce was not issued by the grader or was used already "
                      "(a replayed launch)",
    "Unable to find public key": "the id_token is signed with a key (kid) that the platform's "
                                 "JWKS does not list",
    "Missing Roles Claim": "the id_token has no roles claim",
    "Must have a user (sub)": "the id_token has no user (sub)",
    "Missing Resource Link Id": "the id_token has no resource link id",
}


def _explain(exc: Exception) -> str:
    text = str(exc)
    if text in _EXPLAINED:
        return _EXPLAINED[text]
    if text.startswith("Can't decode id_token"):
        return ("the id_token's signature or times do not verify against the platform's JWKS "
                f"({text.removeprefix('Can' + chr(39) + 't decode id_token: ')})")
    if "deployment ID" in text:
        return f"the deployment of this launch is not registered with the grader ({text})"
    return text or type(exc).__name__


def _check_times(claims: dict[str, Any], now: float) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise LaunchRefused(400, "the id_token must carry numeric exp and iat claims")
    if exp <= now:
        raise LaunchRefused(401, "the id_token has expired (exp is in the past); check the "
                                 "platform's clock, or launch again")
    if iat > now + LEEWAY_S:
        raise LaunchRefused(401, "the id_token was issued in the future (iat); the platform's "
                                 "clock is ahead of the grader's")
    if now - iat > MAX_TOKEN_AGE_S:
        raise LaunchRefused(401, "the id_token was issued more than an hour ago")


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise LaunchRefused(401, f"the id_token's audience {aud!r} does not include the "
                                 f"registered client id {client_id!r}")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise LaunchRefused(401, "the id_token has several audiences but no azp claim")
    if azp is not None and azp != client_id:
        raise LaunchRefused(401, f"the id_token's azp {azp!r} is not the registered client id")


def verify_launch(lti: LtiStore, keys: ToolKeys, records: LaunchRecords,
                  timeout_s: float) -> VerifiedLaunch:
    """Every check of a launch request; raises LaunchRefused or CookiesBlocked."""
    id_token, state = request.form.get("id_token", ""), request.form.get("state", "")
    if not id_token:
        raise LaunchRefused(400, "the launch carries no id_token (is the tool's redirect URL "
                                 "/lti/launch, and does the platform POST to it?)")
    if not state:
        raise LaunchRefused(400, "the launch carries no state")
    login = records.peek_login(state)
    if login is None:
        raise LaunchRefused(400, "the launch's state was not issued by the grader's login, "
                                 "has expired, or was used already (a replayed launch); "
                                 "launch again from the LMS")
    cookies = CookieJar()
    if cookies.get_cookie(state) != state:
        raise CookiesBlocked(login)
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.InvalidTokenError as exc:
        raise LaunchRefused(400, f"the id_token is not a JWT: {exc}") from None
    if header.get("alg") != "RS256":
        raise LaunchRefused(401, f"the id_token is signed with {header.get('alg')!r}; LTI 1.3 "
                                 "requires RS256")
    key_sets = KeySets(lti, timeout_s)

    def validated() -> Launch:
        launch = Launch(FormRequest(), ToolConf(lti, keys, key_sets),
                        session_service=RedisSessionService(records), cookie_service=cookies,
                        requests_session=TimeoutSession(timeout_s))
        launch.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
        launch.validate()
        return launch

    try:
        try:
            launch = validated()
        except LtiKeyException as exc:
            # A kid the kept key set lacks: the platform may have rotated; fetch it again.
            if str(exc) != "Unable to find public key" or not key_sets.forget_cached():
                raise
            launch = validated()
    except (LtiException, OIDCException, ToolConfException) as exc:
        raise LaunchRefused(401 if isinstance(exc, LtiKeyException | LtiInvalidNonceException)
                            or str(exc).startswith("Can't decode") else 400,
                            _explain(exc)) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise LaunchRefused(400, f"the id_token is malformed ({type(exc).__name__}: {exc})"
                            ) from None
    claims: dict[str, Any] = dict(launch.get_launch_data())
    registration = lti.registration(str(claims.get("iss")), launch.get_client_id())
    if registration is None or registration.issuer != login.issuer or (
            registration.client_id != login.client_id):
        raise LaunchRefused(400, "the id_token's issuer or client id is not the one the login "
                                 "started with")
    _check_audience(claims, registration.client_id)
    _check_times(claims, time.time())
    if claims.get("nonce") != login.nonce:
        raise LaunchRefused(401, "the id_token's nonce is not the one issued with its state")
    if claims.get(CLAIM + "message_type") not in MESSAGE_TYPES:
        raise LaunchRefused(400, f"the grader handles {' and '.join(MESSAGE_TYPES)} messages, "
                                 f"not {claims.get(CLAIM + 'message_type')!r}")
    roles = claims.get(CLAIM + "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise LaunchRefused(400, "the id_token's roles claim must be a list of role URIs")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        raise LaunchRefused(400, "the id_token's sub must be a string of 1-255 characters")
    return VerifiedLaunch(registration, claims, state, login.nonce)
