"""The short-lived, single-use records of a launch, kept by the web only:

=====================================  =======  ==============================================
key                                    type     holds
=====================================  =======  ==============================================
``P:lti:state:<state>``                string   a :class:`LoginState` (OIDC login -> launch),
                                                expires after :data:`LOGIN_TTL_S`
``P:lti:nonce:<nonce>``                string   ``1`` while the nonce is unused, expires
``P:lti:dl:<id>``                      string   a :class:`DeepLinkSession`, expires
``P:lti:dr:<sha256>``                  string   a one-time dynamic-registration link
                                                (:mod:`grader.lti.dynamic`), expires
=====================================  =======  ==============================================

A launch consumes its state and its nonce in one transaction (two ``GETDEL``): of two requests
that carry the same ones, exactly one gets both, so a replayed launch is refused even when it
races the original.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel

from common.store import Store

LOGIN_TTL_S = 600
DEEP_LINK_TTL_S = 3600


class LoginState(BaseModel):
    """What the login step knew, for the launch that follows it."""

    issuer: str
    client_id: str
    nonce: str
    # The login request's parameters, to restart the login in a new window when the browser
    # refused the state cookie inside the LMS's frame.
    params: dict[str, str]


class DeepLinkSession(BaseModel):
    """A deep-linking request waiting for the instructor's choice in the picker."""

    issuer: str
    client_id: str
    deployment_id: str
    settings: dict[str, Any]
    username: str


class LaunchRecords:
    """Login states, nonces and deep-linking sessions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._r: Any = store.client

    def _key(self, *parts: str) -> str:
        return self.store.key("lti", *parts)

    def save_login(self, state: str, login: LoginState) -> None:
        """Remember a login's state and nonce until the launch (or expiry)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._key("state", state), login.model_dump_json(), ex=LOGIN_TTL_S)
        pipe.set(self._key("nonce", login.nonce), "1", ex=LOGIN_TTL_S)
        pipe.execute()

    def peek_login(self, state: str) -> LoginState | None:
        """The login of ``state`` if it is unused and unexpired (without using it)."""
        if not state or len(state) > 200:
            return None
        raw = self._r.get(self._key("state", state))
        return LoginState.model_validate_json(raw) if raw else None

    def nonce_unused(self, nonce: str) -> bool:
        """Whether ``nonce`` was issued by a login and not used yet."""
        return bool(nonce) and len(nonce) <= 200 and bool(
            self._r.exists(self._key("nonce", nonce)))

    def consume(self, state: str, nonce: str) -> bool:
        """Use a state and its nonce, atomically; False when either was used already."""
        pipe = self._r.pipeline(transaction=True)
        pipe.getdel(self._key("state", state))
        pipe.getdel(self._key("nonce", nonce))
        got_state, got_nonce = pipe.execute()
        return bool(got_state) and bool(got_nonce)

    def open_deep_link(self, session: DeepLinkSession) -> str:
        """Keep a deep-linking request for the picker; returns its id."""
        dl_id = secrets.token_urlsafe(18)
        self._r.set(self._key("dl", dl_id), session.model_dump_json(), ex=DEEP_LINK_TTL_S)
        return dl_id

    def deep_link(self, dl_id: str) -> DeepLinkSession | None:
        """The waiting deep-linking request, or None."""
        if not dl_id or len(dl_id) > 100:
            return None
        raw = self._r.get(self._key("dl", dl_id))
        return DeepLinkSession.model_validate_json(raw) if raw else None

    def close_deep_link(self, dl_id: str) -> DeepLinkSession | None:
        """Use a deep-linking request (once)."""
        raw = self._r.getdel(self._key("dl", dl_id))
        return DeepLinkSession.model_validate_json(raw) if raw else None
