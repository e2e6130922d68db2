"""Worker configuration: defaults here, overridden by ``GRADER_*`` environment variables.

Read once, where a process starts (the CLI, the Celery worker); nothing deeper reads the
environment.

| variable | default | meaning |
|---|---|---|
| ``GRADER_EXERCISES_DIR`` | the shipped course | a course folder (or its ``exercises/``) |
| ``GRADER_RUNNER`` | ``sandbox`` | ``sandbox`` (production) or ``process`` (no isolation; |
|  |  | only with ``GRADER_SANDBOX_STRICT=0``, with a notice on every result) |
| ``GRADER_SANDBOX_STRICT`` | ``1`` | ``0``: run even when an isolation layer is missing, |
|  |  | saying so on every result (development only) |
| ``GRADER_SANDBOX_UID_BASE`` | ``61000`` | worker slot *n* runs learner code as uid base + *n* |
| ``GRADER_SANDBOX_WARM`` | ``3`` | sandboxed children kept forked and isolated ahead of time |
| ``GRADER_SANDBOX_RECYCLE_AFTER`` | ``1000`` | jobs before a slot's zygote is replaced |
| ``GRADER_SANDBOX_DISABLE`` | empty | comma-separated layers to treat as missing (diagnosis) |
| ``GRADER_GPU_MEMORY_FRACTION`` | ``0.25`` | share of each GPU's memory one ``cuda`` job may |
|  |  | allocate (0 < f <= 1; keep jobs per card x f below about 0.9) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

RUNNERS = ("sandbox", "process")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A ``GRADER_*`` variable has a value that cannot be used."""


@dataclass(frozen=True)
class WorkerConfig:
    """Settings of the grading side."""

    exercises_dir: Path | None = None  # None: the course shipped with the grader
    runner: str = "sandbox"
    sandbox_strict: bool = True
    sandbox_uid_base: int = 61000
    sandbox_warm: int = 3
    sandbox_recycle_after: int = 1000
    sandbox_disable: str = ""
    # = worker.runner.DEFAULT_GPU_MEMORY_FRACTION (not imported: this module stays light).
    gpu_memory_fraction: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.gpu_memory_fraction <= 1:  # also refuses NaN
            raise ConfigError(f"GRADER_GPU_MEMORY_FRACTION={self.gpu_memory_fraction!r}: "
                              "expected a number above 0, at most 1")
        if self.runner not in RUNNERS:
            raise ConfigError(f"GRADER_RUNNER={self.runner!r}: expected one of "
                              f"{', '.join(RUNNERS)}")
        if self.runner == "process" and self.sandbox_strict:
            # No isolation at all: development only, and said on every result (ProcessRunner
            # adds the notice).
            raise ConfigError("GRADER_RUNNER=process runs learner code without the sandbox (as "
                              "the worker's own user); it is allowed only in development mode, "
                              "with GRADER_SANDBOX_STRICT=0")
        if self.sandbox_warm < 1 or self.sandbox_recycle_after < 1:
            raise ConfigError("GRADER_SANDBOX_WARM and GRADER_SANDBOX_RECYCLE_AFTER must be at "
                              "least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        """Defaults overridden by ``GRADER_EXERCISES_DIR``, ``GRADER_RUNNER``..."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            variable = f"GRADER_{f.name.upper()}"
            raw = env.get(variable)
            if raw:
                values[f.name] = _parse(variable, str(f.type), raw)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def sandbox_disabled_layers(self) -> frozenset[str]:
        """``GRADER_SANDBOX_DISABLE`` as a set of layer names."""
        return frozenset(p.strip() for p in self.sandbox_disable.split(",") if p.strip())


def _parse(variable: str, kind: str, raw: str) -> object:
    if kind.startswith("Path"):
        return Path(raw)
    if kind == "bool":
        if raw.strip().lower() in _TRUE:
            return True
        if raw.strip().lower() in _FALSE:
            return False
        raise ConfigError(f"{variable}={raw!r}: expected 1 or 0")
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{variable}={raw!r}: expected a number") from None
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{variable}={raw!r}: expected a whole number") from None
    return raw
