"""Sending tasks to the workers, by name: the web never imports :mod:`worker.tasks`.

The queues are declared exactly as the workers declare them
(:func:`common.contract.declared_queues`), so a message published before any worker started
still lands in its queue.
"""

from __future__ import annotations

from celery import Celery
from flask import Flask, current_app

from common.contract import QUEUES, broker_prefix, declared_queues


class Dispatcher:
    """A Celery producer for the grader's tasks."""

    def __init__(self, redis_url: str, key_prefix: str) -> None:
        self.celery = Celery("grader-web", set_as_current=False)
        self.celery.conf.update(
            broker_url=redis_url,
            broker_transport_options={"global_keyprefix": broker_prefix(key_prefix)},
            broker_connection_retry_on_startup=True,
            task_queues=declared_queues(),
            task_serializer="json",
            task_ignore_result=True,
        )

    def send(self, task: str, argument: str, queue: str) -> None:
        """Publish ``task(argument)`` to ``queue``; raises on a broker error."""
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        self.celery.send_task(task, args=[argument], queue=queue, exchange=queue,
                              routing_key=queue, retry=True,
                              retry_policy={"max_retries": 3, "interval_start": 0.1,
                                            "interval_step": 0.2, "interval_max": 1})


def init_app(app: Flask) -> None:
    """Create the app's dispatcher (it connects on first use)."""
    app.extensions["grader.dispatcher"] = Dispatcher(str(app.config["REDIS_URL"]),
                                                     str(app.config["KEY_PREFIX"]))


def get_dispatcher() -> Dispatcher:
    """The current app's dispatcher."""
    dispatcher: Dispatcher = current_app.extensions["grader.dispatcher"]
    return dispatcher
