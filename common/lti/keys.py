"""The tool's own signing keys (RS256), kept in Redis and rotatable.

The active key signs deep-linking responses and the client assertions of the token requests;
``/lti/jwks.json`` publishes the public half of the active key and of every retired key that is
still within its grace period (a platform may hold a JWT signed by it, or a cached key set), so
rotating never breaks a platform in the middle of a conversation. ``grader lti keys rotate``
creates a new key and retires the old one; ``grader lti keys prune`` forgets retired keys whose
grace period is over.
"""

from __future__ import annotations

import json
import time
from typing import Any

from jwcrypto.jwk import JWK
from pydantic import BaseModel

from common.store import Store

#: How long a retired key stays in the JWKS (platforms cache key sets for hours).
RETIRED_GRACE_S = 7 * 86400


class ToolKey(BaseModel):
    """One RSA key pair of the tool."""

    kid: str
    private_pem: str
    public_pem: str
    created_at: float
    retired_at: float | None = None

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (``kid``, ``alg`` RS256, ``use`` sig)."""
        jwk = json.loads(JWK.from_pem(self.public_pem.encode()).export_public())
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        return dict(jwk)


def generate_key(now: float) -> ToolKey:
    """A fresh 2048-bit RSA key; its kid is the JWK thumbprint."""
    jwk = JWK.generate(kty="RSA", size=2048)
    return ToolKey(kid=jwk.thumbprint(), private_pem=jwk.export_to_pem(
        private_key=True, password=None).decode(), public_pem=jwk.export_to_pem().decode(),
        created_at=now)


class ToolKeys:
    """The key ring: ``P:lti:keys`` (kid -> key) and ``P:lti:keys:active``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._r: Any = store.client

    def _ring(self) -> str:
        return self.store.key("lti", "keys")

    def _active(self) -> str:
        return self.store.key("lti", "keys", "active")

    def all(self) -> list[ToolKey]:
        """Every key, newest first."""
        keys = [ToolKey.model_validate_json(v) for v in self._r.hvals(self._ring())]
        return sorted(keys, key=lambda k: k.created_at, reverse=True)

    def active(self) -> ToolKey:
        """The key to sign with; created on first use (one winner when several race)."""
        kid = self._r.get(self._active())
        if kid:
            raw = self._r.hget(self._ring(), kid)
            if raw:
                return ToolKey.model_validate_json(raw)
        key = generate_key(time.time())
        self._r.hset(self._ring(), key.kid, key.model_dump_json())
        if not self._r.set(self._active(), key.kid, nx=True):
            self._r.hdel(self._ring(), key.kid)  # another process won; use its key
            return self.active()
        return key

    def rotate(self) -> tuple[ToolKey, ToolKey | None]:
        """Make a new active key and retire the old one (kept in the JWKS for its grace
        period); returns (new, retired)."""
        old = self.active()
        new = generate_key(time.time())
        retired = old.model_copy(update={"retired_at": new.created_at})
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._ring(), mapping={new.kid: new.model_dump_json(),
                                         old.kid: retired.model_dump_json()})
        pipe.set(self._active(), new.kid)
        pipe.execute()
        return new, retired

    def published(self, now: float | None = None) -> list[ToolKey]:
        """The keys the JWKS lists: the active one and retired ones still in grace."""
        now = time.time() if now is None else now
        active = self.active()
        return [k for k in self.all() if k.kid == active.kid or (
            k.retired_at is not None and now - k.retired_at < RETIRED_GRACE_S)]

    def prune(self, now: float | None = None) -> list[str]:
        """Forget retired keys past their grace period; returns their kids."""
        now = time.time() if now is None else now
        gone = [k.kid for k in self.all()
                if k.retired_at is not None and now - k.retired_at >= RETIRED_GRACE_S]
        if gone:
            self._r.hdel(self._ring(), *gone)
        return gone

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JSON Web Key Set served at ``/lti/jwks.json``."""
        return {"keys": [k.public_jwk() for k in self.published()]}
