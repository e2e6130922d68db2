"""The app's handle on the Redis store (:mod:`common.store`, shared with the workers)."""

from __future__ import annotations

from flask import Flask, current_app

from common.store import Store


def init_app(app: Flask) -> None:
    """Connect the app to the Redis named by ``REDIS_URL`` (connections open lazily)."""
    # str(): GRADER_* values are parsed as JSON, so a numeric prefix would arrive as an int.
    app.extensions["grader.store"] = Store.from_url(str(app.config["REDIS_URL"]),
                                                    str(app.config["KEY_PREFIX"]))


def get_store() -> Store:
    """The current app's store."""
    store: Store = current_app.extensions["grader.store"]
    return store
