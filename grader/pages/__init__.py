"""The web pages for learners and instructors (server-rendered, with a little JavaScript that
makes them live; everything also works without it).

:func:`init_app` adds sessions and CSRF protection (Flask-WTF; the bearer-token API is exempt),
security headers, the pages' error pages, the blueprints (:mod:`~grader.pages.auth`,
:mod:`~grader.pages.learn`, :mod:`~grader.pages.teach`) and the ``flask accounts`` command.
See ``docs/pages.md``.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from grader.accounts import AccountStore, set_hash_concurrency
from grader.api.blueprint import bp as api_bp
from grader.errors import store_unavailable
from grader.pages import auth, cli, filters, learn, teach
from grader.pages.session import current_account

logger = logging.getLogger(__name__)
csrf = CSRFProtect()

# Scripts and styles only from this site: a statement that slipped a script past the
# sanitiser would still not run. CodeMirror adds its own <style> elements, hence
# 'unsafe-inline' for styles (styles cannot run code).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_BLUEPRINTS = ("auth", "learn", "teach")


def _security_headers(response: Response) -> Response:
    if request.blueprint in PAGE_BLUEPRINTS or request.path.startswith("/static/"):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
    if request.blueprint in PAGE_BLUEPRINTS:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(exc: HTTPException) -> tuple[str, int] | HTTPException:
    if request.blueprint not in PAGE_BLUEPRINTS:
        return exc
    status = exc.code or 500
    if isinstance(exc, CSRFError):
        message = "This form expired. Go back, reload the page and try again."
    elif status == 413:
        message = "That upload is too large."
    elif status == 429:
        message = "Too many requests. Wait a minute, then try again."
    else:
        message = exc.description or exc.name
    return render_template("error.html", status=status, title=exc.name, message=message), status


def _crash_page(exc: Exception) -> tuple[str, int]:
    if current_app.testing:  # tests see the exception itself
        raise exc
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return render_template("error.html", status=500, title="Something went wrong",
                           message="The grader failed on this page; this is not your fault. "
                                   "Try again in a moment."), 500


# The blueprints live at module level and may be registered on several apps (tests make one
# per namespace), so they are set up once, here, not in init_app.
BLUEPRINTS = (auth.bp, learn.bp, teach.bp)
for _blueprint in BLUEPRINTS:
    _blueprint.register_error_handler(HTTPException, _error_page)
    # Before the catch-all below: Redis down is 503 with Retry-After, not a crash.
    _blueprint.register_error_handler(redis.ConnectionError, store_unavailable)
    _blueprint.register_error_handler(redis.TimeoutError, store_unavailable)
    _blueprint.register_error_handler(Exception, _crash_page)


def _ensure_secret(app: Flask) -> None:
    """Every web process must sign cookies with the same key: the configured
    ``GRADER_SECRET_KEY``, else one kept in Redis (created by the first process)."""
    if app.secret_key:
        return
    app.secret_key = AccountStore(app.extensions["grader.store"]).session_secret()
    logger.warning("no GRADER_SECRET_KEY configured; signing sessions with a key kept in Redis")


def _context() -> dict[str, Any]:
    return {"current_account": current_account()}


def init_app(app: Flask) -> None:
    """Register the pages and everything they need."""
    # Cookie settings come from grader.config.Config (Flask defines its own defaults, so a
    # setdefault here would never apply).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session
    set_hash_concurrency(int(app.config["ARGON2_MAX_CONCURRENT"]))
    try:  # now, so that a new web worker's first request does not find it missing
        _ensure_secret(app)
    except redis.RedisError:
        logger.warning("Redis is unreachable; the session key is loaded on the first request")

    @app.before_request  # before CSRF's own hook, which needs the key
    def _secret() -> None:
        _ensure_secret(app)

    csrf.init_app(app)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing to forge
    app.after_request(_security_headers)
    app.context_processor(_context)
    filters.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.cli.add_command(cli.accounts)
