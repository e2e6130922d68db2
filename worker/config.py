"""Worker configuration: defaults here, overridden by ``GRADER_*`` environment variables.

Read once, where a process starts (the CLI, the Celery worker); nothing deeper reads the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class WorkerConfig:
    """Settings of the grading side."""

    exercises_dir: Path | None = None  # None: the course shipped with the grader
    runner: str = "process"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        """Defaults overridden by ``GRADER_EXERCISES_DIR``, ``GRADER_RUNNER``..."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"GRADER_{f.name.upper()}")
            if raw:
                values[f.name] = Path(raw) if f.name.endswith("_dir") else raw
        return cls(**values)  # type: ignore[arg-type]
