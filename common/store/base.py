"""The connection and key layout every part of the store shares."""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Self

import redis


def _lua(name: str) -> str:
    """One of the store's Lua scripts (``common/store/lua/NAME.lua``)."""
    return files("common.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


class StoreBase:
    """A Redis client, the key prefix, the server's clock and the Lua scripts."""

    def __init__(self, client: redis.Redis, prefix: str = "grader") -> None:
        self.client = client
        # redis-py's sync methods are annotated as returning "Awaitable | Any"; the store
        # parses every reply into a typed model, so it talks to Redis through an untyped view.
        self._r: Any = client
        self.prefix = prefix
        self._create = client.register_script(_lua("create"))
        self._start = client.register_script(_lua("start"))
        self._finish = client.register_script(_lua("finish"))

    @classmethod
    def from_url(cls, url: str, prefix: str = "grader") -> Self:
        """A store on the Redis at ``url`` (``redis://host:port/db``)."""
        client = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        return cls(client, prefix)

    def key(self, *parts: str) -> str:
        """A key of this store's layout, e.g. ``key("submission", id)``."""
        return ":".join((self.prefix, *parts))

    def events_channel(self) -> str:
        """The pub/sub channel on which starting and finishing a submission announce
        ``"<id> <status>"`` (the web's long polls wait on it: :mod:`grader.waiting`)."""
        return self.key("events", "submissions")

    def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False

    def now(self) -> float:
        """Redis server time (the clock every record's times use)."""
        return self._now()

    def _now(self) -> float:
        seconds, micros = self._r.time()
        return float(seconds) + float(micros) / 1e6
