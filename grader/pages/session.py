"""Who is signed in: the account behind the session cookie, and the decorators that require one.

The cookie (Flask's signed session) holds the username, the account's password epoch and a
random session id that must still be live in Redis (:meth:`AccountStore.open_session`): signing
out ends the session on the server, so a cookie captured before sign-out no longer works, and a
password change ends every session of the account (and bumps the epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for

from grader.accounts import Account, AccountStore
from grader.storage import get_store

F = TypeVar("F", bound=Callable[..., Any])
_MISSING = object()


def get_accounts() -> AccountStore:
    """The current app's account store."""
    accounts = current_app.extensions.get("grader.accounts")
    if accounts is None:
        accounts = AccountStore(get_store())
        current_app.extensions["grader.accounts"] = accounts
    return accounts


def current_account() -> Account | None:
    """The signed-in account (looked up once per request), or None."""
    cached = g.get("grader_account", _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[no-any-return]
    account = None
    username = session.get("user")
    session_id = session.get("sid")
    if isinstance(username, str) and isinstance(session_id, str):
        accounts = get_accounts()
        found = accounts.get(username)
        if (found is not None and session.get("epoch") == found.epoch
                and accounts.session_user(session_id) == username):
            account = found
    g.grader_account = account
    return account


def sign_in(account: Account) -> None:
    """Start a fresh session for ``account`` (a new cookie, so no fixation)."""
    session.clear()
    lifetime = current_app.permanent_session_lifetime
    session["sid"] = get_accounts().open_session(account.username,
                                                 int(lifetime.total_seconds()))
    session["user"] = account.username
    session["epoch"] = account.epoch
    session.permanent = True
    g.grader_account = account


def sign_out() -> None:
    """End the session, on the server too."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        get_accounts().end_session(session_id)
    session.clear()
    g.grader_account = None


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (never another host), else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # CR/LF would split the Location header; other controls have no place in a path either.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target


def signed_in() -> Account:
    """The signed-in account; views behind :func:`login_required` only."""
    account = current_account()
    assert account is not None
    return account


def login_required(view: F) -> F:
    """Send visitors who are not signed in to the sign-in page, and back afterwards."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("auth.signin", next=target))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def instructor_required(view: F) -> F:
    """Like :func:`login_required`, and 403 for learners."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        account = current_account()
        if account is None:
            return redirect(url_for("auth.signin", next=request.path))
        if not account.is_instructor:
            abort(403, "This page is for instructors.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
