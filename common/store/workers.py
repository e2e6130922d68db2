"""Workers' heartbeats and the depth of their queues."""

from __future__ import annotations

from common.contract import broker_prefix
from common.records import WorkerBeat
from common.store.base import StoreBase


class WorkerRegistry(StoreBase):
    """Workers' heartbeats and the depth of their queues."""

    def beat(self, name: str, queues: list[str], pid: int, ttl_s: int) -> None:
        """A worker says it is alive."""
        beat = WorkerBeat(name=name, queues=queues, pid=pid, at=self._now())
        pipe = self._r.pipeline()
        pipe.set(self.key("worker", name), beat.model_dump_json(), ex=ttl_s)
        pipe.sadd(self.key("workers"), name)
        pipe.execute()

    def forget_worker(self, name: str) -> None:
        """A worker stopping cleanly."""
        pipe = self._r.pipeline()
        pipe.delete(self.key("worker", name))
        pipe.srem(self.key("workers"), name)
        pipe.execute()

    def workers(self) -> list[WorkerBeat]:
        """Workers whose heartbeat has not expired."""
        names = sorted(self._r.smembers(self.key("workers")))
        if not names:
            return []
        raws = self._r.mget([self.key("worker", n) for n in names])
        gone = [n for n, r in zip(names, raws, strict=True) if not r]
        if gone:
            self._r.srem(self.key("workers"), *gone)
        return [WorkerBeat.model_validate_json(r) for r in raws if r]

    def queue_depth(self, queue: str) -> int:
        """Messages waiting in a Celery queue (not counting those a worker has reserved)."""
        return int(self._r.llen(broker_prefix(self.prefix) + queue))
