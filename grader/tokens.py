"""API tokens (only the web reads them): created, looked up by their hash, listed, revoked."""

from __future__ import annotations

import secrets

from common.records import Role, TokenRecord, hash_token
from common.store import Store


class TokenStore:
    """The tokens kept in a store (``P:token:<sha256>`` and ``P:tokens``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._r = store._r
        self.key = store.key
        self._now = store.now

    def create_token(self, role: Role, name: str, learner: str | None = None) -> tuple[
        str, TokenRecord
    ]:
        """Create a token; returns it (shown once, never stored) and its record."""
        token_id = secrets.token_hex(4)
        token = f"grd_{token_id}_{secrets.token_urlsafe(24)}"
        now = self._now()
        record = TokenRecord(id=token_id, role=role, name=name, learner=learner, created_at=now)
        digest = hash_token(token)
        fields = {k: str(v) for k, v in record.model_dump().items() if v is not None}
        pipe = self._r.pipeline()
        pipe.hset(self.key("token", digest), mapping=fields)
        pipe.hset(self.key("tokens"), token_id, digest)
        pipe.execute()
        return token, record

    def lookup_token(self, token: str) -> TokenRecord | None:
        """The record of a presented token, or None if unknown or revoked."""
        fields = self._r.hgetall(self.key("token", hash_token(token)))
        return TokenRecord.model_validate(fields) if fields else None

    def revoke_token(self, token_id: str) -> bool:
        """Revoke by token id; False if there is no such token."""
        digest = self._r.hget(self.key("tokens"), token_id)
        if not digest:
            return False
        pipe = self._r.pipeline()
        pipe.delete(self.key("token", digest))
        pipe.hdel(self.key("tokens"), token_id)
        pipe.execute()
        return True

    def list_tokens(self) -> list[TokenRecord]:
        """Every live token's record, oldest first."""
        digests = self._r.hgetall(self.key("tokens"))
        pipe = self._r.pipeline(transaction=False)
        for digest in digests.values():
            pipe.hgetall(self.key("token", digest))
        records = [TokenRecord.model_validate(f) for f in pipe.execute() if f]
        return sorted(records, key=lambda r: r.created_at)
