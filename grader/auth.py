"""Bearer tokens with a role (``learner``, ``instructor``, ``lms``), stored hashed in Redis.

A learner token acts for one learner only; an LMS token acts for any learner; an instructor
token may do everything, including adding exercises (whose reference code runs in the workers'
sandbox, like learner code).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from common.records import Role, TokenRecord
from grader.errors import ApiError
from grader.storage import get_store
from grader.tokens import TokenStore

F = TypeVar("F", bound=Callable[..., Any])
_MISSING = object()


def bearer_token() -> str | None:
    """The token of the ``Authorization: Bearer ...`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_token() -> TokenRecord | None:
    """The caller's token record (looked up once per request), or None."""
    cached = g.get("grader_token", _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[no-any-return]
    token = bearer_token()
    record = TokenStore(get_store()).lookup_token(token) if token and len(token) < 200 else None
    g.grader_token = record
    return record


def authenticate() -> TokenRecord:
    """The caller's token record; 401 without a valid one."""
    record = current_token()
    if record is None:
        message = ("a valid API token is required: send 'Authorization: Bearer <token>'"
                   if bearer_token() is None else "the API token is unknown or revoked")
        raise ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="grader"'})
    return record


def require(*roles: Role) -> Callable[[F], F]:
    """Allow a view to callers whose token has one of ``roles``: 401 without a token,
    403 with a token of another role."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            record = authenticate()
            if record.role not in roles:
                raise ApiError(403, f"this needs a token of role {' or '.join(roles)}; "
                                    f"yours is {record.role}")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def may_act_for(record: TokenRecord, learner: str) -> bool:
    """Whether the token may submit as, or read the submissions of, ``learner``."""
    return record.role in ("instructor", "lms") or record.learner == learner
