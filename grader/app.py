"""The Flask application factory: :func:`create_app` builds the app and nothing else does.

Each integration has an ``init_app(app)``; pages are further blueprints
registered here, next to the REST API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from common.callback_policy import parse_networks
from common.deployment import enforce
from grader import api, catalogue, dispatch, errors, health, limits, lti, pages, storage, waiting
from grader.config import Config
from grader.request import StrictJSONProvider


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the grader's web app: defaults from :class:`~grader.config.Config`, then
    ``GRADER_*`` environment variables, then ``test_config``."""
    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    app.config.from_object(Config)
    app.config.from_prefixed_env("GRADER")
    if test_config is not None:
        app.config.from_mapping(test_config)
    # A bad allow-list entry stops the app here, not every submission that names a callback.
    parse_networks(str(app.config["CALLBACK_ALLOWED_NETWORKS"]))
    if not app.testing:
        enforce(str(app.config["MODE"]), {"GRADER_SECRET_KEY": app.config["SECRET_KEY"]},
                str(app.config["REDIS_URL"]), "web app")
    storage.init_app(app)
    waiting.init_app(app)
    dispatch.init_app(app)
    catalogue.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    api.init_app(app)
    health.init_app(app)
    lti.init_app(app)  # before pages: its after_request must see the pages' headers
    pages.init_app(app)
    return app
