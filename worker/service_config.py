"""Settings of the grading service's workers: defaults here, overridden by ``GRADER_*``
environment variables, read once where the worker process starts (:mod:`worker.celery_app`).

The grading settings proper (course folder, runner) stay in :class:`worker.config.WorkerConfig`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@dataclass(frozen=True)
class ServiceSettings:
    """How a worker reaches Redis and how hard it tries."""

    # production: refuse to start without real secrets (common.deployment).
    mode: str = "production"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "grader"
    # A message a worker took but did not acknowledge goes back to its queue after this long;
    # it must exceed the longest grading (grading_time_limit_s), or a slow grading would be
    # handed to a second worker while the first still runs it.
    visibility_timeout_s: int = 900
    # Grading that runs longer ends as failed (a soft limit; the hard limit is 30 s later).
    grading_time_limit_s: int = 600
    # Deliveries of one grading task before the submission ends as failed: a submission that
    # kills every worker that takes it must not loop forever.
    max_attempts: int = 3
    # How often a worker looks for messages whose visibility timeout ran out.
    restore_interval_s: int = 10
    heartbeat_s: float = 5.0
    # The sweeper (worker.sweeper): how often, and how old an unfinished submission must be
    # before it is looked at.
    sweep_interval_s: float = 15.0
    sweep_grace_s: float = 30.0
    # Callbacks: HMAC-SHA256 key, attempts and backoff (doubling from callback_backoff_s).
    callback_secret: str = ""  # required in production
    callback_retries: int = 8
    callback_backoff_s: float = 2.0
    callback_backoff_max_s: float = 300.0
    callback_timeout_s: float = 10.0
    # Networks (comma-separated CIDRs or addresses) a callback may reach although they are
    # loopback, private or link-local; empty: public addresses only (docs/security.md).
    callback_allowed_networks: str = ""
    # Validation reports are kept this long for the web to read.
    upload_ttl_s: int = 3600
    # Where uploaded exercises are unpacked for grading (one folder per content hash): a
    # private folder of the worker's user (0700, checked; never a shared /tmp path).
    cache_dir: Path = field(default_factory=lambda: _user_cache() / "grader" / "exercises")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Defaults overridden by ``GRADER_REDIS_URL``, ``GRADER_MAX_ATTEMPTS``..."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"GRADER_{f.name.upper()}")
            if not raw:
                continue
            default = f.default
            if isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes")
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            elif isinstance(default, Path) or f.type == "Path":
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        return cls(**values)
