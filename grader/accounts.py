"""People who sign in to the pages: learner and instructor accounts, invitations, and the key
that signs session cookies. Web-only (the workers never read these), so the keys live here,
next to the web, under the store's prefix:

=====================================  =======  ==============================================
key                                    type     holds
=====================================  =======  ==============================================
``P:account:<username>``               string   an :class:`Account` as JSON (password hashed)
``P:accounts``                         set      every username
``P:invite:<sha256>``                  string   an :class:`Invitation`, expires
``P:pages:secret``                     string   the session-signing key, when no
                                                ``GRADER_SECRET_KEY`` is configured
=====================================  =======  ==============================================

A username is a learner id (:data:`worker.store.LEARNER_PATTERN`): a learner's submissions
from the pages are filed under it, exactly as the API files them. Passwords are hashed with
Argon2id (argon2-cffi); an invitation link carries a random token stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, field_validator

from worker.store import LEARNER_PATTERN, Store

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


def check_password(value: str) -> str:
    """Refuse passwords too short to resist guessing."""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > 1024:
        raise AccountError("a password has at most 1024 characters")
    return value


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
        check_password(password)
        account = Account(username=username, name=name.strip()[:200], role=role,
                          password_hash=_hasher.hash(password), created_at=time.time(),
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
            _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None:
            return None
        if _hasher.check_needs_rehash(account.password_hash):
            account = account.model_copy(update={"password_hash": _hasher.hash(password)})
            self._r.set(self._key("account", username), account.model_dump_json(), xx=True)
        return account

    def set_password(self, username: str, password: str) -> Account:
        """Change a password; every session of the account signed in before ends."""
        check_password(password)
        account = self.get(username)
        if account is None:
            raise AccountError(f"no account {username!r}")
        account = account.model_copy(update={"password_hash": _hasher.hash(password),
                                             "epoch": account.epoch + 1})
        self._r.set(self._key("account", username), account.model_dump_json(), xx=True)
        return account

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
        check_password(password)
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
