"""Building the runner a grading process uses, from its configuration.

Every entry point (``grader check``, ``grader exercises validate``, the Celery worker, the test
suite) reads :class:`~worker.config.WorkerConfig` once and hands it here; nothing below reads
the environment again.
"""

from __future__ import annotations

from pathlib import Path

from common.spec import ExerciseLibrary, default_library_root
from worker.config import WorkerConfig
from worker.process_runner import ProcessRunner
from worker.runner import Runner
from worker.sandbox import SandboxConfig, SandboxRunner, SandboxUnavailable

__all__ = ["SandboxUnavailable", "build_runner", "hidden_folders"]


def hidden_folders(config: WorkerConfig, library: ExerciseLibrary | None = None) -> tuple[
        Path, ...]:
    """The course folders learner code must never see: the shipped course's, the configured
    one's (``GRADER_EXERCISES_DIR``) and ``library``'s (e.g. ``grader --exercises DIR``)."""
    root = default_library_root()
    hidden = [root / "reference", root / "exercises"]
    if config.exercises_dir is not None:
        course = config.exercises_dir.resolve()
        hidden += [course, course.parent / "reference"]
    if library is not None:
        hidden += [library.exercises_dir, library.reference_dir]
    return tuple(hidden)


def build_runner(config: WorkerConfig, library: ExerciseLibrary | None = None) -> Runner:
    """The runner ``config`` names, started.

    ``sandbox`` (the default) starts the slot's zygote at once, so that a machine where strict
    mode refuses says so before any grading: it raises :class:`SandboxUnavailable` with the
    reason. ``process`` runs learner code without isolation (development only).
    """
    if config.runner == "process":
        return ProcessRunner()
    return SandboxRunner(SandboxConfig(
        strict=config.sandbox_strict,
        uid_base=config.sandbox_uid_base,
        warm=config.sandbox_warm,
        recycle_after=config.sandbox_recycle_after,
        hidden=hidden_folders(config, library),
        disabled=config.sandbox_disabled_layers,
    )).start()
