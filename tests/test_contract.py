"""The task contract is declared once (common.contract) and both sides use that declaration."""

from __future__ import annotations

from typing import Any

import pytest

from common.contract import QUEUES, queue_for_device
from grader.dispatch import Dispatcher
from worker.service_config import ServiceSettings


def _shape(queues: Any) -> list[tuple[str, str, str, str]]:
    return sorted((q.name, q.exchange.name, q.exchange.type, q.routing_key) for q in queues)


def test_the_web_publishes_to_the_queues_the_workers_consume(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_MODE", "development")  # the module builds its app on import
    from worker.celery_app import CeleryConfig

    web = Dispatcher("redis://127.0.0.1:1/0", "contract").celery.conf.task_queues
    workers = CeleryConfig(ServiceSettings()).task_queues
    assert _shape(web) == _shape(workers)
    assert [name for name, *_ in _shape(web)] == sorted(QUEUES)
    assert all(name == exchange == key for name, exchange, _, key in _shape(web))


def test_an_exercise_goes_to_the_queue_of_its_device() -> None:
    assert queue_for_device("cuda") == "gpu"
    assert queue_for_device("cpu") == "cpu"
