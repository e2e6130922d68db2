"""``python -m worker.health``: is a grading worker on this host alive and connected to Redis?

Exit status 0 when a worker whose Celery node name ends in ``@<this host>`` sent a heartbeat
recently (its heartbeat key has not expired: the worker is up and reaches Redis), 1 otherwise,
with one line saying which. The health check of the worker containers (docker-compose.yml), and
usable from systemd or a load balancer's probe on a worker host. Reads ``GRADER_REDIS_URL`` and
``GRADER_KEY_PREFIX`` like the worker; imports neither torch nor Celery, so it is quick.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence

import redis

from common.records import WorkerBeat
from common.store import Store
from worker.service_config import ServiceSettings


def local_workers(store: Store, host: str) -> list[WorkerBeat]:
    """Live workers whose node name says they run on ``host``."""
    return [b for b in store.workers() if b.name.rsplit("@", 1)[-1] == host]


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line and return 0 if a worker on this host is alive, else 1."""
    parser = argparse.ArgumentParser(prog="python -m worker.health", description=__doc__)
    parser.add_argument("--host", default=socket.gethostname(),
                        help="the host part of the worker's node name (default: this host)")
    parser.add_argument("--queue", help="require a worker that consumes this queue")
    args = parser.parse_args(argv)
    settings = ServiceSettings.from_env()
    store = Store.from_url(settings.redis_url, settings.key_prefix)
    try:
        beats = local_workers(store, args.host)
    except redis.RedisError as exc:
        print(f"unhealthy: Redis does not answer ({type(exc).__name__}: {exc})")
        return 1
    if args.queue:
        beats = [b for b in beats if args.queue in b.queues]
    if not beats:
        wanted = f" consuming {args.queue}" if args.queue else ""
        print(f"unhealthy: no live worker{wanted} on {args.host}")
        return 1
    print("healthy: " + ", ".join(f"{b.name} ({','.join(b.queues)})" for b in beats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
