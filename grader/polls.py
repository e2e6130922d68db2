"""A cap on concurrent long polls (``GET /submissions/<id>?wait=S``) per token.

A long poll holds a web thread for up to ``MAX_WAIT_S``; without a cap, one token could hold
every thread of every web process. Each token may hold ``MAX_POLLS_PER_TOKEN`` at once, counted
in Redis across web processes (a sorted set of poll ids scored by when they expire, so a poll
whose process died stops counting on its own); beyond that the API answers 429.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from common.store import Store

# KEYS: the token's poll set.  ARGV: cap, lifetime (s), poll id
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
"""


class TooManyPolls(Exception):
    """This token already holds its share of long polls."""


@contextmanager
def long_poll(store: Store, token_id: str, cap: int, lifetime_s: float) -> Iterator[None]:
    """Hold one of ``token_id``'s ``cap`` long-poll slots for the body (at most
    ``lifetime_s``, after which it is free again whatever happened)."""
    key = store.key("polls", token_id)
    poll_id = uuid.uuid4().hex
    acquired = store.client.eval(_ACQUIRE, 1, key, cap, lifetime_s, poll_id)
    if not acquired:
        raise TooManyPolls(f"this token already holds {cap} long polls")
    try:
        yield
    finally:
        store.client.zrem(key, poll_id)
