"""``/healthz`` (Redis and at least one worker reachable) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from common.contract import QUEUES
from common.store import Store
from grader.errors import RETRY_AFTER_S
from grader.limits import limiter
from grader.statistics import Statistics
from grader.storage import get_store

bp = Blueprint("ops", __name__)
limiter.exempt(bp)


@bp.get("/healthz")
def healthz() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """200 when Redis answers and a worker sent a heartbeat recently; 503 (with
    ``Retry-After``) otherwise."""
    store = get_store()
    redis_ok = store.ping()
    workers = store.workers() if redis_ok else []
    ok = redis_ok and bool(workers)
    body = {
        "status": "ok" if ok else "unavailable",
        "redis": redis_ok,
        "workers": [{"name": w.name, "queues": w.queues} for w in workers],
    }
    if ok:
        return jsonify(body), 200
    return jsonify(body), 503, {"Retry-After": str(RETRY_AFTER_S)}


class StoreCollector(Collector):
    """Reads the grader's numbers from Redis at each scrape, so every web process (and every
    worker's grading) is counted once."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        """Submissions by status, grading latency, queue depth, live workers."""
        by_status = GaugeMetricFamily("grader_submissions", "Submissions by status",
                                      labels=["status"])
        for status, count in Statistics(self.store).counts().items():
            by_status.add_metric([status], count)
        yield by_status
        buckets, count, total = Statistics(self.store).latency()
        cumulative, rows = 0, []
        for bound, n in buckets:
            cumulative += n
            rows.append(("+Inf" if bound == float("inf") else f"{bound:g}", cumulative))
        latency = HistogramMetricFamily(
            "grader_grading_latency_seconds",
            "Time from accepting a submission to its verdict (graded or failed)")
        latency.add_metric([], rows, sum_value=total)
        yield latency
        depth = GaugeMetricFamily("grader_queue_depth", "Tasks waiting in each queue",
                                  labels=["queue"])
        for queue in QUEUES:
            depth.add_metric([queue], self.store.queue_depth(queue))
        yield depth
        yield GaugeMetricFamily("grader_workers", "Workers with a recent heartbeat",
                                value=len(self.store.workers()))
        del count


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition."""
    registry: CollectorRegistry = current_app.extensions["grader.metrics"]
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")


def init_app(app: Flask) -> None:
    """Register ``/healthz`` and ``/metrics``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(app.extensions["grader.store"]))
    app.extensions["grader.metrics"] = registry
    app.register_blueprint(bp)
