"""The REST API v1 (``/api/v1``), one module per resource, and its OpenAPI document."""

from __future__ import annotations

from flask import Flask

from grader.api import exercises, gradebook, learners, submissions
from grader.api.blueprint import bp
from grader.api.spec import api_spec

__all__ = ["exercises", "gradebook", "init_app", "learners", "submissions"]


def init_app(app: Flask) -> None:
    """Register the API blueprint and serve its OpenAPI document."""
    app.register_blueprint(bp)
    api_spec.register(app)
