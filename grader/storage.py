"""The app's handle on the Redis store (:mod:`common.store`, shared with the workers)."""

from __future__ import annotations

import redis
from flask import Flask, current_app

from common.store import Store


def init_app(app: Flask) -> None:
    """Connect the app to the Redis named by ``REDIS_URL`` (connections open lazily).

    A web process holds at most ``REDIS_MAX_CONNECTIONS`` connections: under gevent a
    thousand long polls woken at once would otherwise each open one (1,700 connections were
    measured for 1,000 polls), paying a connect (and TLS and AUTH) apiece. A request waits up to
    ``REDIS_POOL_TIMEOUT_S`` for a free one (a ConnectionError, answered 503, after that).
    """
    pool = redis.BlockingConnectionPool.from_url(
        # str(): GRADER_* values are parsed as JSON, so a numeric prefix would arrive as an int.
        str(app.config["REDIS_URL"]), decode_responses=True, health_check_interval=30,
        max_connections=int(app.config["REDIS_MAX_CONNECTIONS"]),
        timeout=float(app.config["REDIS_POOL_TIMEOUT_S"]))
    app.extensions["grader.store"] = Store(redis.Redis(connection_pool=pool),
                                           str(app.config["KEY_PREFIX"]))


def get_store() -> Store:
    """The current app's store."""
    store: Store = current_app.extensions["grader.store"]
    return store
