"""People who sign in to the pages: learner and instructor accounts, invitations, and the key
that signs session cookies. Web-only (the workers never read these), so the keys live here,
next to the web, under the store's prefix:

=====================================  =======  ==============================================
key                                    type     holds
=====================================  =======  ==============================================
``P:account:<username>``               string   an :class:`Account` as JSON (password hashed)
``P:accounts``                         set      every username
``P:invite:<sha256>``                  string   an :class:`Invitation`, expires
``P:session:<sha256>``                 string   the username a signed-in session belongs to,
                                                expires with the session (the cookie holds
                                                the random session id, Redis its SHA-256)
``P:account:<username>:sessions``      set      that account's session digests (to end them)
``P:pages:secret``                     string   the session-signing key, when no
                                                ``GRADER_SECRET_KEY`` is configured
=====================================  =======  ==============================================

A username is a learner id (:data:`common.store.LEARNER_PATTERN`): a learner's submissions
from the pages are filed under it, exactly as the API files them. Passwords are hashed with
Argon2id (argon2-cffi); an invitation link carries a random token stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, field_validator

from common.records import LEARNER_PATTERN
from common.store import Store
from grader.common_passwords import is_common
from grader.green import off_loop

AccountRole = Literal["learner", "instructor"]
ACCOUNT_ROLES: tuple[AccountRole, ...] = ("learner", "instructor")
MIN_PASSWORD_LENGTH = 8
INVITATION_TTL_S = 7 * 86400

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong username takes as long as a
# wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account cannot be created or changed; the message says why."""


def check_username(value: str) -> str:
    """A username is a learner id: 1-128 letters, digits and ``. _ @ + -``."""
    if not LEARNER_PATTERN.fullmatch(value):
        raise AccountError("a username is 1-128 letters, digits and . _ @ + - "
                           "(starting with a letter or digit)")
    return value


def check_password(value: str, username: str = "") -> str:
    """Refuse passwords too short or too common to resist guessing."""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > 1024:
        raise AccountError("a password has at most 1024 characters")
    if is_common(value) or (username and value.lower() == username.lower()):
        raise AccountError("this password is among the first any attacker tries; choose "
                           "another (a few unrelated words make a good one)")
    return value


class HashingBusy(Exception):
    """Every password-hashing slot stayed taken too long: try again in a moment."""


# Argon2id takes 64 MiB per hash: without a cap, 20 parallel sign-ins took a web process from
# 132 MiB to 1.4 GiB. Each process hashes at most this many passwords at once; others wait.
_hash_slots = threading.BoundedSemaphore(2)
HASH_WAIT_S = 30.0


def set_hash_concurrency(slots: int) -> None:
    """How many passwords one process may hash at once (``GRADER_ARGON2_MAX_CONCURRENT``)."""
    global _hash_slots
    _hash_slots = threading.BoundedSemaphore(max(1, slots))


@contextmanager
def _hashing() -> Iterator[None]:
    slots = _hash_slots
    if not slots.acquire(timeout=HASH_WAIT_S):
        raise HashingBusy("too many sign-ins at once; try again in a moment")
    try:
        yield
    finally:
        slots.release()


class Account(BaseModel):
    """Someone who signs in: a learner (submits under ``username``) or an instructor."""

    username: str
    name: str = ""
    role: AccountRole
    password_hash: str
    created_at: float
    created_by: str = ""
    # Bumped when the password changes: sessions signed in before that end.
    epoch: int = 0

    _check_username = field_validator("username")(check_username)

    @property
    def display_name(self) -> str:
        """The name to greet, else the username."""
        return self.name or self.username

    @property
    def is_instructor(self) -> bool:
        """Whether the instructor pages are open to this account."""
        return self.role == "instructor"


class Invitation(BaseModel):
    """A one-time link that lets its holder choose the password of a new account."""

    username: str
    name: str = ""
    role: AccountRole
    created_by: str
    created_at: float
    expires_at: float


class AccountStore:
    """Typed access to the account keys, on the store's Redis and under its prefix."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._r: Any = store.client  # see Store: replies are parsed into typed models here

    def _key(self, *parts: str) -> str:
        return self.store.key(*parts)

    # --- accounts -----------------------------------------------------------------------------

    def create(self, username: str, password: str, role: AccountRole, name: str = "",
               created_by: str = "") -> Account:
        """Create an account; AccountError if the username is taken or a field is invalid."""
        check_username(username)
        check_password(password, username)
        with _hashing():
            password_hash = off_loop(_hasher.hash, password)
        account = Account(username=username, name=name.strip()[:200], role=role,
                          password_hash=password_hash, created_at=time.time(),
                          created_by=created_by)
        if not self._r.set(self._key("account", username), account.model_dump_json(), nx=True):
            raise AccountError(f"the username {username!r} is taken")
        self._r.sadd(self._key("accounts"), username)
        return account

    def get(self, username: str) -> Account | None:
        """The account, or None."""
        if not LEARNER_PATTERN.fullmatch(username):
            return None
        raw = self._r.get(self._key("account", username))
        return Account.model_validate_json(raw) if raw else None

    def all(self) -> list[Account]:
        """Every account, by username."""
        names = sorted(self._r.smembers(self._key("accounts")))
        raws = self._r.mget([self._key("account", n) for n in names]) if names else []
        return [Account.model_validate_json(r) for r in raws if r]

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account if the password is right, else None (in about the same time)."""
        account = self.get(username) if len(password) <= 1024 else None
        try:
            with _hashing():
                off_loop(_hasher.verify, account.password_hash if account else _DUMMY_HASH,
                         password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None:
            return None
        if _hasher.check_needs_rehash(account.password_hash):
            with _hashing():
                password_hash = off_loop(_hasher.hash, password)
            account = account.model_copy(update={"password_hash": password_hash})
            self._r.set(self._key("account", username), account.model_dump_json(), xx=True)
        return account

    def set_password(self, username: str, password: str) -> Account:
        """Change a password; every session of the account signed in before ends."""
        check_password(password, username)
        account = self.get(username)
        if account is None:
            raise AccountError(f"no account {username!r}")
        with _hashing():
            password_hash = off_loop(_hasher.hash, password)
        account = account.model_copy(update={"password_hash": password_hash,
                                             "epoch": account.epoch + 1})
        self._r.set(self._key("account", username), account.model_dump_json(), xx=True)
        self.end_sessions(username)
        return account

    # --- server-side sessions -----------------------------------------------------------------

    def open_session(self, username: str, ttl_s: int) -> str:
        """A new session of ``username``; returns its id (for the signed cookie only: Redis
        keeps its SHA-256, so reading Redis does not let anyone resume a session)."""
        session_id = secrets.token_urlsafe(32)
        digest = _digest(session_id)
        pipe = self._r.pipeline()
        pipe.set(self._key("session", digest), username, ex=ttl_s)
        pipe.sadd(self._key("account", username, "sessions"), digest)
        pipe.expire(self._key("account", username, "sessions"), ttl_s)
        pipe.execute()
        return session_id

    def session_user(self, session_id: str) -> str | None:
        """The username of a live session, or None once it ended or expired."""
        if not session_id or len(session_id) > 100:
            return None
        value = self._r.get(self._key("session", _digest(session_id)))
        return str(value) if value else None

    def end_session(self, session_id: str) -> None:
        """End one session (signing out): its cookie no longer signs anyone in."""
        digest = _digest(session_id)
        username = self._r.getdel(self._key("session", digest))
        if username:
            self._r.srem(self._key("account", str(username), "sessions"), digest)

    def end_sessions(self, username: str) -> int:
        """End every session of ``username`` (a password change); returns how many."""
        key = self._key("account", username, "sessions")
        digests = self._r.smembers(key)
        pipe = self._r.pipeline()
        for digest in digests:
            pipe.delete(self._key("session", digest))
        pipe.delete(key)
        pipe.execute()
        return len(digests)

    # --- invitations --------------------------------------------------------------------------

    def invite(self, username: str, role: AccountRole, created_by: str, name: str = "",
               ttl_s: int = INVITATION_TTL_S) -> tuple[str, Invitation]:
        """An invitation for a new account; returns the link's token (shown once) and it."""
        check_username(username)
        if self.get(username) is not None:
            raise AccountError(f"the username {username!r} is taken")
        now = time.time()
        invitation = Invitation(username=username, name=name.strip()[:200], role=role,
                                created_by=created_by, created_at=now, expires_at=now + ttl_s)
        token = secrets.token_urlsafe(24)
        self._r.set(self._key("invite", _digest(token)), invitation.model_dump_json(), ex=ttl_s)
        # An index of the pending ones by expiry, so that instructors can see them.
        self._r.zadd(self._key("invites"), {_digest(token): invitation.expires_at})
        return token, invitation

    def pending(self) -> list[Invitation]:
        """Invitations neither used nor expired, oldest first."""
        index = self._key("invites")
        self._r.zremrangebyscore(index, "-inf", time.time())
        digests = list(self._r.zrange(index, 0, -1))
        raws = self._r.mget([self._key("invite", d) for d in digests]) if digests else []
        gone = [d for d, raw in zip(digests, raws, strict=True) if not raw]
        if gone:
            self._r.zrem(index, *gone)
        found = [Invitation.model_validate_json(raw) for raw in raws if raw]
        return sorted(found, key=lambda i: i.created_at)

    def invitation(self, token: str) -> Invitation | None:
        """The invitation a link's token stands for, or None once used or expired."""
        if not token or len(token) > 100:
            return None
        raw = self._r.get(self._key("invite", _digest(token)))
        return Invitation.model_validate_json(raw) if raw else None

    def accept(self, token: str, password: str) -> Account:
        """Create the invited account with this password; the link works once."""
        invited = self.invitation(token)
        check_password(password, invited.username if invited else "")
        raw = self._r.getdel(self._key("invite", _digest(token))) if token else None
        if token:
            self._r.zrem(self._key("invites"), _digest(token))
        if not raw:
            raise AccountError("this invitation was used already or has expired; "
                               "ask your instructor for a new one")
        invitation = Invitation.model_validate_json(raw)
        return self.create(invitation.username, password, invitation.role, invitation.name,
                           created_by=invitation.created_by)

    # --- the session key ----------------------------------------------------------------------

    def session_secret(self) -> str:
        """A signing key shared by every web process on this Redis (created once)."""
        key = self._key("pages", "secret")
        self._r.set(key, secrets.token_urlsafe(48), nx=True)
        return str(self._r.get(key))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
