"""Accounts for people who arrive by an LTI launch: one per ``(issuer, sub)``, no password.

The username is derived from the issuer and the platform's user id (``lti-<hash>``), so the
same person launching from the same platform is always the same account, and two platforms'
users never collide. The account's password is random and never shown: such an account can
only sign in through its platform. A launch with an instructor role makes (or upgrades) an
instructor account; a learner launch never downgrades one.
"""

from __future__ import annotations

import hashlib
import secrets

from common.lti.models import LtiPerson
from common.lti.store import LtiStore
from grader.accounts import Account, AccountError, AccountRole, AccountStore


def username_for(issuer: str, sub: str) -> str:
    """The account of a platform user: ``lti-`` and 24 hex digits of SHA-256."""
    return "lti-" + hashlib.sha256(f"{issuer}\x1f{sub}".encode()).hexdigest()[:24]


def display_name(claims: dict[str, object]) -> str:
    """The name the platform gave, else given and family names, else empty."""
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()[:200]
    parts = [claims.get("given_name"), claims.get("family_name")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())[:200]


def link_account(accounts: AccountStore, lti: LtiStore, issuer: str, sub: str,
                 claims: dict[str, object], instructor: bool) -> Account:
    """The account linked to ``(issuer, sub)``, created on the first launch."""
    username = username_for(issuer, sub)
    role: AccountRole = "instructor" if instructor else "learner"
    account = accounts.get(username)
    if account is None:
        try:
            account = accounts.create(username, secrets.token_urlsafe(32), role,
                                      display_name(claims), created_by=f"lti:{issuer}")
        except AccountError:  # a concurrent first launch created it
            account = accounts.get(username)
            assert account is not None
    if instructor and not account.is_instructor:
        account = account.model_copy(update={"role": "instructor"})
        # AccountStore has no role change; the account's own key, as AccountStore writes it.
        accounts.store.client.set(accounts.store.key("account", username),
                                  account.model_dump_json(), xx=True)
    email = claims.get("email")
    lti.put_person(username, LtiPerson(issuer=issuer, sub=sub, name=display_name(claims),
                                       email=email if isinstance(email, str) else ""))
    return account
