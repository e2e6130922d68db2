"""What the grading service's tasks do, kept apart from Celery so the tasks stay thin.

Imports the grading pipeline (and so torch): :mod:`worker.tasks` imports this module inside
its task bodies, so the Celery main process never does, and each pool child process builds its
own :class:`Runtime` (runner included) lazily on its first task.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

from common.callback_policy import CallbackRefused, parse_networks
from common.lti import passback as lti_passback
from common.records import ValidationOutcome
from common.spec import ExerciseError, ExerciseLibrary
from common.store import Store
from worker.callbacks import CallbackError, callback_body, deliver
from worker.checks import checked_library
from worker.config import WorkerConfig
from worker.exercise_cache import CacheUnsafe, unpacked
from worker.pipeline import GraderError, Pipeline
from worker.runner import Runner
from worker.runners import build_runner
from worker.sandbox.layers import SandboxUnavailable
from worker.service_config import ServiceSettings
from worker.validation import validate_exercise

logger = logging.getLogger(__name__)

GradeOutcome = Literal["graded", "failed", "done", "missing"]


class RunnerUnavailable(Exception):
    """This worker process cannot run learner code (the message says why)."""


@dataclass
class Runtime:
    """What one worker process grades with: its store, course and (created on first use)
    runner."""

    settings: ServiceSettings
    store: Store
    course: ExerciseLibrary
    config: WorkerConfig

    @classmethod
    def create(cls, settings: ServiceSettings) -> Runtime:
        """Connect to Redis and open the course; the runner waits for the first grading."""
        config = WorkerConfig.from_env()
        return cls(
            settings=settings,
            store=Store.from_url(settings.redis_url, settings.key_prefix),
            course=checked_library(config.exercises_dir),
            config=config,
        )

    @cached_property
    def runner(self) -> Runner:
        """The configured runner; raises RunnerUnavailable when it cannot start (e.g. the
        sandbox refuses, in strict mode, on a machine that lacks an isolation layer)."""
        try:
            return build_runner(self.config, self.course)
        except SandboxUnavailable as exc:
            raise RunnerUnavailable(str(exc)) from None

    def warm_up(self) -> None:
        """Start the runner now rather than on the first grading."""
        _ = self.runner

    def library_for(self, slug: str) -> ExerciseLibrary:
        """The library that holds ``slug``: an uploaded exercise (unpacked into the private
        cache and checked against its content hash, :mod:`worker.exercise_cache`) shadows the
        course folder's."""
        stored = self.store.get_exercise(slug)
        if stored is None:
            return self.course
        return checked_library(unpacked(self.settings.cache_dir, stored))


_runtime: tuple[int, Runtime] | None = None


def runtime(settings: ServiceSettings) -> Runtime:
    """This process's runtime, created on first use (and again in a forked child)."""
    global _runtime
    if _runtime is None or _runtime[0] != os.getpid():
        _runtime = (os.getpid(), Runtime.create(settings))
    return _runtime[1]


def exhausted_message(attempts: int) -> str:
    """What a learner reads when their submission stopped every worker that took it."""
    return (f"grading stopped the grading worker {attempts} times, so this submission was not "
            "graded; check it for code that exhausts memory or crashes, and submit again")


def grade(rt: Runtime, submission_id: str, worker: str,
          send_callback: Callable[[str], None],
          send_score: Callable[[str], None] | None = None) -> GradeOutcome:
    """One delivery of the grading task. Idempotent: a delivery of a finished submission
    changes nothing (but sends its callback if that was never sent, and posts its LTI score
    again, which changes nothing on the platform)."""
    start = rt.store.start_attempt(submission_id, worker, rt.settings.max_attempts)
    record = start.record
    if start.action == "missing" or record is None:
        logger.error("submission %s does not exist; dropping its task", submission_id)
        return "missing"
    if start.action == "done":
        if record.callback_url and record.callback_status is None:  # finished, never queued
            _queue_callback(rt, submission_id, send_callback)
        if send_score is not None:
            lti_passback.queue_scores(rt.store, record, send_score)
        return "done"
    if start.action == "exhausted":
        logger.error("submission %s exhausted %d deliveries", submission_id,
                     rt.settings.max_attempts)
        status: Literal["graded", "failed"] = "failed"
        finished = rt.store.finish(submission_id, "failed",
                                   error=exhausted_message(rt.settings.max_attempts))
    else:
        status, finished = _grade_once(rt, submission_id, record.exercise)
    if finished and record.callback_url:
        _queue_callback(rt, submission_id, send_callback)
    if finished and send_score is not None:  # a learner from an LTI launch: to the gradebook
        lti_passback.queue_scores(rt.store, record, send_score)
    return status if finished else "done"


def _grade_once(rt: Runtime, submission_id: str, slug: str) -> tuple[
    Literal["graded", "failed"], bool
]:
    from celery.exceptions import SoftTimeLimitExceeded

    source = rt.store.get_source(submission_id) or ""
    try:
        library = rt.library_for(slug)
        # An uploaded exercise's reference runs in the runner, never in this process.
        verdict = Pipeline(library, rt.runner, rt.config.gpu_memory_fraction,
                           sandboxed_reference=library is not rt.course
                           ).grade(library.load(slug), source)
    except (ExerciseError, GraderError) as exc:
        logger.exception("submission %s: the exercise could not be graded", submission_id)
        return "failed", rt.store.finish(
            submission_id, "failed", error=f"the exercise {slug!r} could not be graded: {exc}")
    except (RunnerUnavailable, SandboxUnavailable, CacheUnsafe) as exc:
        logger.error("submission %s: no runner: %s", submission_id, exc)
        return "failed", rt.store.finish(
            submission_id, "failed", error=f"the grading worker cannot run code: {exc}")
    except SoftTimeLimitExceeded:
        return "failed", rt.store.finish(
            submission_id, "failed",
            error=f"grading took longer than {rt.settings.grading_time_limit_s} s")
    return "graded", rt.store.finish(submission_id, "graded", verdict)


def _queue_callback(rt: Runtime, submission_id: str, send: Callable[[str], None]) -> None:
    rt.store.set_callback_state(submission_id, "pending", 0)
    send(submission_id)


def validate_upload(rt: Runtime, upload_id: str) -> ValidationOutcome | None:
    """Validate a staged bundle like ``grader exercises validate`` and store the report."""
    bundle = rt.store.get_upload(upload_id)
    if bundle is None:
        return None
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp:
        library = checked_library(bundle.write_course(Path(tmp)))
        try:
            exercise = library.load(bundle.slug)
            report = validate_exercise(
                Pipeline(library, rt.runner, rt.config.gpu_memory_fraction,
                         sandboxed_reference=True), exercise)
        except ExerciseError as exc:
            outcome = ValidationOutcome(ok=False, problems=_as_uploaded(exc, tmp, bundle.slug))
        except (GraderError, RunnerUnavailable) as exc:
            outcome = ValidationOutcome(ok=False, problems=[str(exc)])
        else:
            outcome = report.outcome(exercise.content_hash)
    rt.store.put_report(upload_id, outcome, rt.settings.upload_ttl_s)
    return outcome


def _as_uploaded(error: ExerciseError, tmp: str, slug: str) -> list[str]:
    """Each problem (a check's wrong argument, at its line) with its file named as in the
    upload, not by the temporary folder it was checked in."""
    if not error.problems:
        return [str(error).replace(f"{tmp}/exercises/{slug}/", "").replace(f"{tmp}/", "")]
    return [replace(p, file=p.file.removeprefix(f"{tmp}/exercises/{slug}/")
                    .removeprefix(f"{tmp}/")).render() for p in error.problems]


CallbackOutcome = Literal["delivered", "retry", "failed", "skipped"]


def post_callback(rt: Runtime, submission_id: str, attempt: int) -> tuple[
    CallbackOutcome, str
]:
    """One attempt at delivering a finished submission to its callback URL."""
    record = rt.store.get_submission(submission_id)
    if record is None or not record.callback_url or not record.finished:
        return "skipped", "nothing to deliver"
    if record.callback_status == "delivered":
        return "skipped", "already delivered"
    body = callback_body(record, rt.store.get_result(submission_id))
    try:
        deliver(record.callback_url, body, rt.settings.callback_secret,
                rt.settings.callback_timeout_s, submission_id, attempt,
                allowed=parse_networks(rt.settings.callback_allowed_networks))
    except CallbackRefused as exc:
        # Final: retrying a refused target would only probe it again.
        logger.warning("callback of %s refused: %s", submission_id, exc)
        rt.store.set_callback_state(submission_id, "failed", attempt, str(exc))
        return "failed", str(exc)
    except CallbackError as exc:
        last = attempt > rt.settings.callback_retries
        rt.store.set_callback_state(submission_id, "failed" if last else "pending", attempt,
                                    str(exc))
        return ("failed" if last else "retry"), str(exc)
    rt.store.set_callback_state(submission_id, "delivered", attempt)
    return "delivered", ""


def callback_backoff(settings: ServiceSettings, retries: int) -> float:
    """Seconds before the next callback attempt: doubling, capped."""
    return float(min(settings.callback_backoff_s * 2**retries, settings.callback_backoff_max_s))
