"""Rate limits (flask-limiter, counters in Redis): per learner on submissions, per token on
everything else; over the limit the API answers 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask, current_app, has_app_context, request
from flask_limiter import Limiter

from grader.auth import current_token


def caller_key() -> str:
    """Whom a request counts against: its token, else its address."""
    record = current_token()
    return f"token:{record.id}" if record else f"addr:{request.remote_addr}"


def learner_key() -> str:
    """Whom a submission counts against: the learner it is for (a learner token's own
    learner, else the ``learner`` field of the body), else the caller."""
    record = current_token()
    if record is not None and record.role == "learner" and record.learner:
        return f"learner:{record.learner}"
    learner = None
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("learner"), str):
            learner = body["learner"]
    elif request.mimetype == "multipart/form-data":
        learner = request.form.get("learner")
    if learner:
        return f"learner:{learner[:128]}"
    return caller_key()


def submit_limit() -> str:
    """The configured submission limit."""
    return str(current_app.config["SUBMIT_RATE_LIMIT"])


def api_limit() -> str:
    """The configured per-token limit of every API route."""
    return str(current_app.config["API_RATE_LIMIT"])


_APP_STATE = "grader.limiter"  # app.extensions key of each app's counters and strategy


def _per_app(name: str) -> property:
    """An attribute of the limiter that belongs to the app serving the request.

    The decorators need one module-level limiter at import time, but flask-limiter keeps the
    counters' storage on the limiter itself, so every ``init_app`` re-pointed it for every app
    of the process (the tests make many apps, one with a Redis that is down). Outside an app
    context (during ``init_app``) the value set last is used.
    """

    def get(self: Limiter) -> Any:
        if has_app_context():
            state = current_app.extensions.get(_APP_STATE)
            if state is not None:
                return state[name]
        return self.__dict__.get(name)

    def put(self: Limiter, value: Any) -> None:
        self.__dict__[name] = value

    return property(get, put)


class AppLimiter(Limiter):
    """A :class:`Limiter` whose counters live in the Redis of the app serving the request."""

    _storage = _per_app("_storage")
    _limiter = _per_app("_limiter")

    def init_app(self, app: Flask) -> None:
        """Set up ``app``, and keep its storage and strategy with it."""
        super().init_app(app)
        app.extensions[_APP_STATE] = {n: self.__dict__.get(n) for n in ("_storage", "_limiter")}


limiter = AppLimiter(key_func=caller_key, headers_enabled=True, strategy="fixed-window")


def init_app(app: Flask) -> None:
    """Store the counters in the app's Redis, under the store's prefix."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    options: dict[str, Any] = {"key_prefix": f"{app.config['KEY_PREFIX']}:ratelimit"}
    uri = str(app.config["RATELIMIT_STORAGE_URI"])
    if uri.startswith(("redis://", "rediss://")):
        # A bounded pool, as for the store (grader/storage.py): under gevent every request
        # in flight would otherwise open a connection of its own.
        options["connection_pool"] = redis.BlockingConnectionPool.from_url(
            uri, max_connections=int(app.config["REDIS_MAX_CONNECTIONS"]),
            timeout=float(app.config["REDIS_POOL_TIMEOUT_S"]))
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", options)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
