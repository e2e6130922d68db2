"""The Celery app of the grading workers: ``celery -A worker.celery_app worker`` (``grader
worker`` runs it).

Reliability choices (see docs/service.md):

- queues ``cpu``, ``gpu`` and ``callbacks``, each with its own direct exchange and routing key;
  the web picks the queue from the exercise's device (:func:`common.store.queue_for_device`);
- late acknowledgement, and a task whose worker process died is rejected back to its queue;
  a worker that dies whole leaves its message unacknowledged, and Redis hands it out again after
  the visibility timeout, which exceeds the grading time limit;
- prefetch 1: a worker holds no more messages than it has processes;
- the grading task counts its deliveries in the submission record and ends the submission as
  failed past ``max_attempts`` (:meth:`common.store.Store.start_attempt`).

Pool: prefork (``grader worker --concurrency N``). The main process never imports torch or
creates a runner; each child process creates its runner lazily on its first task
(:mod:`worker.tasks`), so a sandbox zygote is forked from a process that has not initialised
CUDA. ``--pool solo`` works too (one grading at a time per worker process), but without the
grading time limit, which needs prefork.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, bootsteps
from celery.signals import after_setup_logger, worker_process_init

from common.callback_policy import parse_networks
from common.contract import GRADE_TASK, broker_prefix, declared_queues
from common.deployment import enforce
from common.store import Store
from worker.service_config import ServiceSettings
from worker.sweeper import sweep

logger = logging.getLogger(__name__)


class CeleryConfig:
    """Celery settings derived from :class:`ServiceSettings` (Celery reads lowercase names)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.broker_url = settings.redis_url
        self.broker_transport_options: dict[str, Any] = {
            "visibility_timeout": settings.visibility_timeout_s,
            "global_keyprefix": broker_prefix(settings.key_prefix),
            "unacked_restore_interval": settings.restore_interval_s,
            "unacked_restore_throttle": 1,
        }
        self.broker_connection_retry_on_startup = True
        self.worker_cancel_long_running_tasks_on_connection_loss = False
        self.task_queues = declared_queues()
        self.task_default_queue = "cpu"
        self.task_default_exchange = "cpu"
        self.task_default_routing_key = "cpu"
        self.task_create_missing_queues = False
        self.task_acks_late = True
        self.task_reject_on_worker_lost = True
        self.task_acks_on_failure_or_timeout = True
        self.task_ignore_result = True
        self.result_backend = None
        self.worker_prefetch_multiplier = 1
        # Pool processes start the runner (imports torch, forks a zygote) before they count
        # as up; Celery's default of 4 s is too short for that.
        self.worker_proc_alive_timeout = 120.0
        self.worker_hijack_root_logger = False
        self.worker_send_task_events = False
        # No task has a rate limit: skip the consumer's token-bucket bookkeeping per message.
        self.worker_disable_rate_limits = True
        self.task_serializer = "json"
        self.accept_content = ["json"]
        self.task_soft_time_limit = settings.grading_time_limit_s
        self.task_time_limit = settings.grading_time_limit_s + 30
        self.include = ["worker.tasks"]
        if settings.visibility_timeout_s <= self.task_time_limit:
            logger.warning(
                "visibility timeout %ss does not exceed the grading time limit %ss: a slow "
                "grading may be handed to a second worker",
                settings.visibility_timeout_s, self.task_time_limit,
            )


class Heartbeat(bootsteps.StartStopStep):
    """Writes this worker's heartbeat to the store every few seconds (``/healthz`` reads it)."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None
        self.store: Store | None = None

    def start(self, parent: Any) -> None:
        self.store = Store.from_url(settings.redis_url, settings.key_prefix)
        self._beat(parent)
        self.tref = parent.timer.call_repeatedly(settings.heartbeat_s, self._beat, (parent,))

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
        if self.store is not None:
            try:
                self.store.forget_worker(parent.hostname)
            except Exception:  # stopping anyway; the heartbeat expires on its own
                logger.debug("could not remove the heartbeat", exc_info=True)

    def _beat(self, parent: Any) -> None:
        assert self.store is not None
        queues = sorted(parent.app.amqp.queues.consume_from or parent.app.amqp.queues)
        try:
            self.store.beat(parent.hostname, queues, os.getpid(),
                            ttl_s=int(settings.heartbeat_s * 3) + 1)
        except Exception:  # Redis away for a moment: the next beat tries again
            logger.warning("heartbeat failed", exc_info=True)


class Sweeper(bootsteps.StartStopStep):
    """Sends the grading task again for submissions left without one (:mod:`worker.sweeper`);
    one worker at a time sweeps."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None
        self.store: Store | None = None

    def start(self, parent: Any) -> None:
        self.store = Store.from_url(settings.redis_url, settings.key_prefix)
        self.tref = parent.timer.call_repeatedly(settings.sweep_interval_s, self._sweep,
                                                 (parent,))

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()

    def _sweep(self, parent: Any) -> None:
        assert self.store is not None

        def send(submission_id: str, queue: str) -> None:
            parent.app.send_task(GRADE_TASK, args=[submission_id], queue=queue,
                                 exchange=queue, routing_key=queue)

        try:
            if self.store.claim_sweep(settings.sweep_interval_s * 0.9):
                sweep(self.store, send, settings.sweep_grace_s,
                      stale_running_s=settings.grading_time_limit_s + 60)
        except Exception:  # Redis away for a moment: the next sweep tries again
            logger.warning("sweep failed", exc_info=True)


def warm_up(**kwargs: Any) -> None:
    """In each new pool process: connect, and start the runner (a sandbox zygote) before the
    first task arrives, so a machine where the sandbox refuses to run says so at once."""
    from worker import service

    try:
        service.runtime(settings).warm_up()
    except (Exception, SystemExit):
        logger.critical("this worker process cannot grade", exc_info=True)


#: Celery's loggers that write one INFO line per task ("received", "succeeded in"): a few
#: hundred microseconds of formatting and a write each, in the hot path of a 30 ms grading.
#: Failures still log at WARNING and above; ``GRADER_TASK_LOG=1`` brings the lines back.
PER_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


def quiet_per_task_logs(**kwargs: Any) -> None:
    """After Celery set up logging (``-l info``): no INFO line per task."""
    if os.environ.get("GRADER_TASK_LOG", "") not in ("", "0"):
        return
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def make_celery(config: ServiceSettings) -> Celery:
    """The Celery app for these settings."""
    celery = Celery("grader", set_as_current=True)
    celery.config_from_object(CeleryConfig(config))
    celery.steps["worker"].add(Heartbeat)
    celery.steps["worker"].add(Sweeper)
    worker_process_init.connect(warm_up, weak=False)
    after_setup_logger.connect(quiet_per_task_logs, weak=False)
    worker_process_init.connect(quiet_per_task_logs, weak=False)
    return celery


#: The Celery main process's pid (pool processes inherit the value): with the node name, it
#: tells a worker apart from a restarted one of the same name (grader serve restarts its
#: worker under the same name), so the sweeper sees which one a running grading belonged to.
MAIN_PID = os.getpid()


def worker_identity(hostname: str) -> str:
    """How a running submission names the worker grading it: ``<node name> pid <main pid>``."""
    return f"{hostname} pid {MAIN_PID}"


settings = ServiceSettings.from_env()
parse_networks(settings.callback_allowed_networks)  # a bad entry stops the worker at start
enforce(settings.mode, {"GRADER_CALLBACK_SECRET": settings.callback_secret},
        settings.redis_url, "grading worker")
app = make_celery(settings)
