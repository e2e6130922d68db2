"""Configuration of the web process: defaults in :class:`Config`, overridden by ``GRADER_*``
environment variables (``GRADER_REDIS_URL``, ``GRADER_SUBMIT_RATE_LIMIT``...), overridden in
turn by the mapping given to :func:`grader.app.create_app` (tests).
"""

from __future__ import annotations


class Config:
    """Defaults; every name can be set as ``GRADER_<NAME>`` (JSON values are parsed)."""

    # production: refuse to start without real secrets (common.deployment); development:
    # warn, and keep the session key in Redis when none is configured.
    MODE = "production"

    REDIS_URL = "redis://127.0.0.1:6379/0"
    KEY_PREFIX = "grader"
    # None: the course shipped with the grader (the worker must see the same folder).
    EXERCISES_DIR: str | None = None
    # Whole request bodies; a submission's code is also capped at SUBMISSION_MAX_BYTES.
    MAX_CONTENT_LENGTH = 8 * 2**20
    SUBMISSION_MAX_BYTES = 256 * 1024
    # Rate limits (flask-limiter notation), per learner for submissions, per token otherwise.
    RATELIMIT_ENABLED = True
    SUBMIT_RATE_LIMIT = "30 per minute"
    API_RATE_LIMIT = "6000 per minute"
    IDEMPOTENCY_TTL_S = 86400
    # Failed sign-ins, per address and per account (successful ones do not count).
    SIGNIN_RATE_LIMIT = "20 per minute"
    SIGNIN_ACCOUNT_RATE_LIMIT = "10 per 15 minutes"
    # Passwords hashed at once per web process (Argon2id takes 64 MiB each).
    ARGON2_MAX_CONCURRENT = 2
    # PUT /exercises waits this long for the worker's validation report.
    VALIDATION_TIMEOUT_S = 300
    # Redis connections one web process holds at most (gevent runs many requests at once),
    # and how long a request waits for a free one.
    REDIS_MAX_CONNECTIONS = 64
    REDIS_POOL_TIMEOUT_S = 20.0
    # Longest ?wait= on GET /submissions/<id> (long polling).
    MAX_WAIT_S = 30.0
    # Long polls one token may hold at once, across web processes (429 beyond).
    MAX_POLLS_PER_TOKEN = 4
    # Comma-separated hosts a callback_url may name; empty: any host.
    CALLBACK_ALLOWED_HOSTS = ""
    # Networks a callback may reach although loopback/private/link-local (the workers'
    # GRADER_CALLBACK_ALLOWED_NETWORKS, the same setting); empty: public addresses only.
    CALLBACK_ALLOWED_NETWORKS = ""
    # Seconds the course folder's exercises are cached in the web process.
    CATALOGUE_TTL_S = 10.0
    # Signs session cookies and CSRF tokens; every web process must share it.
    SECRET_KEY: str | None = None
    # The pages' session cookie (set here, not left to Flask's defaults): not sent on
    # cross-site requests other than top-level links, invisible to scripts, 14 days.
    # Set GRADER_SESSION_COOKIE_SECURE=true behind HTTPS.
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = 14 * 86400
    TESTING = False
