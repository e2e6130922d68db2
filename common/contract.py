"""The task contract between the web and the workers: task names, queues and routing.

Declared once, here: the web publishes with :func:`declared_queues` exactly as the workers
consume them (each queue with its own direct exchange and routing key), so a message published
before any worker started still lands in its queue. The web sends tasks by name and never
imports :mod:`worker.tasks`.
"""

from __future__ import annotations

from kombu import Exchange, Queue

GRADE_TASK = "grader.grade_submission"
VALIDATE_TASK = "grader.validate_exercise"
CALLBACK_TASK = "grader.send_callback"

#: Queues, each with its own direct exchange and routing key of the same name (a shared
#: exchange with overlapping bindings would deliver a task to two queues).
GRADING_QUEUES = ("cpu", "gpu")
CALLBACK_QUEUE = "callbacks"
QUEUES = (*GRADING_QUEUES, CALLBACK_QUEUE)


def queue_for_device(device: str) -> str:
    """Exercises whose device is ``cuda`` are graded by workers of the ``gpu`` queue.

    >>> queue_for_device("cuda"), queue_for_device("cpu")
    ('gpu', 'cpu')
    """
    return "gpu" if device == "cuda" else "cpu"


def broker_prefix(key_prefix: str) -> str:
    """The prefix of Celery's keys (kombu's ``global_keyprefix``) under the store's prefix.

    >>> broker_prefix("grader")
    'grader:broker:'
    """
    return f"{key_prefix}:broker:"


def declared_queues() -> list[Queue]:
    """Every queue, with its own direct exchange and routing key (web and workers alike)."""
    return [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES]
