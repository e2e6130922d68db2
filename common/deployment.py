"""Production or development: which secrets a process needs before it may start.

``GRADER_MODE`` is ``production`` unless set to ``development`` (as ``grader serve`` does for
the processes it starts, after generating every secret). In production a process refuses to
start when a secret it needs is missing or a placeholder (``change-me``, short values...):

- every process: a Redis URL with a password (Redis holds learners' code, password and token
  hashes, and the Celery queues);
- the web: ``GRADER_SECRET_KEY`` (signs session cookies and CSRF tokens);
- the workers: ``GRADER_CALLBACK_SECRET`` (signs callbacks).

In development the same problems are logged as warnings. See docs/security.md.
Torch-free: the web imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

MODES = ("production", "development")
MIN_SECRET_LENGTH = 16
_PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "placeholder", "example",
                      "replace-me", "your-secret", "xxxx")


class InsecureConfiguration(RuntimeError):
    """A production process lacks a secret, or has a placeholder for one."""


def is_placeholder(value: str | None) -> bool:
    """Missing, short, or one of the values people leave in templates."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return True
    lowered = value.lower()
    return any(word in lowered for word in _PLACEHOLDER_WORDS) or len(set(value)) < 4


def redis_password(url: str) -> str | None:
    """The password a ``redis://`` or ``rediss://`` URL carries, if any."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def problems(secrets: Mapping[str, str | None], redis_url: str) -> list[str]:
    """What is wrong with these secrets (by variable name) and this Redis URL."""
    found = [f"{name} is missing or a placeholder (use at least {MIN_SECRET_LENGTH} random "
             "characters, e.g. `openssl rand -hex 32`)"
             for name, value in secrets.items() if is_placeholder(value)]
    password = redis_password(redis_url)
    if not password or is_placeholder(password):
        found.append("GRADER_REDIS_URL has no password, or a placeholder one "
                     "(redis://:<password>@host:port/0)")
    return found


def enforce(mode: str, secrets: Mapping[str, str | None], redis_url: str, what: str) -> None:
    """Refuse to start in production (InsecureConfiguration) when :func:`problems` finds any;
    warn in development."""
    if mode not in MODES:
        raise InsecureConfiguration(f"GRADER_MODE must be one of {', '.join(MODES)}, "
                                    f"not {mode!r}")
    found = problems(secrets, redis_url)
    if not found:
        return
    if mode == "production":
        raise InsecureConfiguration(
            f"the {what} refuses to start in production: " + "; ".join(found)
            + ". (GRADER_MODE=development relaxes this for a machine of your own.)")
    for problem in found:
        logger.warning("development mode: %s", problem)
