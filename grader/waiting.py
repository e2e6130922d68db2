"""Being woken when a submission changes, without a thread or a Redis connection per waiter.

The workers' state changes (:meth:`common.store.Store.start_attempt` and
:meth:`~common.store.Store.finish`) publish ``"<id> <status>"`` on the store's submission
events channel, from inside their Lua scripts. Each web process subscribes to that channel
once, on one connection, in one listener; a request that waits for a submission (a long poll
of the API, the pages' live status) registers itself, re-reads the record, and sleeps on an
event the listener sets when a message names its submission.

Under gunicorn's gevent workers (the production web server, :mod:`grader.processes`) the
``threading`` primitives used here are green: a waiting request is a parked greenlet, so a
thousand long polls cost a thousand small objects, not a thousand threads. Under a threaded
server (the Flask test client, ``gthread``) the same code works with real threads.

Pub/sub delivers at most once: a message published while the listener is reconnecting is lost.
So the listener wakes every waiter whenever it (re)subscribes, and a waiter re-reads its record
at least every ``RECHECK_S`` anyway (which also covers workers of an older version that do not
publish, during a rolling upgrade).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import redis
from flask import Flask, current_app

from common.records import SubmissionRecord
from common.store import Store
from grader.polls import TooManyPolls, long_poll

logger = logging.getLogger(__name__)

#: A waiter re-reads its record at least this often, whatever it hears.
RECHECK_S = 5.0
#: Pauses between reconnection attempts of the listener.
BACKOFF_S = (0.1, 0.5, 1.0, 2.0)


class Watch:
    """One waiter's registration: set when its submission changed (or may have)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        #: The status the last message named ("" when woken for another reason).
        self.status = ""

    def notify(self, status: str) -> None:
        """Wake the waiter (called by the listener)."""
        self.status = status
        self._event.set()

    def wait(self, timeout_s: float) -> bool:
        """Sleep until notified or ``timeout_s`` (capped at ``RECHECK_S``) passed; True if
        notified. Clears the notification, so the next call waits for a new one."""
        woken = self._event.wait(max(0.0, min(timeout_s, RECHECK_S)))
        self._event.clear()
        return woken


class Waiters:
    """This process's listener on the submission events channel and who waits for what."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._redis: Any = store.client  # redis-py's pubsub() is untyped
        self.channel = store.events_channel()
        self._lock = threading.Lock()
        self._watches: dict[str, set[Watch]] = {}
        self._listener: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()

    @contextmanager
    def watch(self, submission_id: str) -> Iterator[Watch]:
        """Be woken on changes of ``submission_id`` for the body. Register first, then read
        the record: a change between the two is not missed."""
        self._ensure_listener()
        watch = Watch()
        with self._lock:
            self._watches.setdefault(submission_id, set()).add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                watches = self._watches.get(submission_id)
                if watches is not None:
                    watches.discard(watch)
                    if not watches:
                        del self._watches[submission_id]

    def waiting(self) -> int:
        """How many waiters are registered (for tests and benchmarks)."""
        with self._lock:
            return sum(len(w) for w in self._watches.values())

    def stop(self) -> None:
        """Stop the listener (tests; a web process simply exits)."""
        self._stop.set()

    def _ensure_listener(self) -> None:
        # Started on first use in each process: a listener inherited through fork is dead.
        with self._lock:
            if self._listener is not None and self._listener.is_alive() \
                    and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._listener = threading.Thread(target=self._listen, name="grader-waiters",
                                              daemon=True)
            self._listener.start()

    def _wake_all(self) -> None:
        with self._lock:
            watches = [w for ws in self._watches.values() for w in ws]
        for watch in watches:
            watch.notify("")

    def _dispatch(self, data: str) -> None:
        submission_id, _, status = data.partition(" ")
        with self._lock:
            watches = list(self._watches.get(submission_id, ()))
        for watch in watches:
            watch.notify(status)

    def _listen(self) -> None:
        failures = 0
        while not self._stop.is_set():
            pubsub = self._redis.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "message":
                        self._dispatch(str(message["data"]))
                    elif message.get("type") == "subscribe":
                        # Subscribed from now on; what was published before is lost: have
                        # every waiter look again.
                        failures = 0
                        self._wake_all()
            except (redis.RedisError, OSError) as exc:
                # Once per outage: Redis being away is logged loudly elsewhere.
                (logger.debug if failures else logger.warning)(
                    "submission events: %s; reconnecting", exc)
                self._wake_all()
                time.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1
            finally:
                with suppress(redis.RedisError, OSError):
                    pubsub.close()


def wait_until(store: Store, waiters: Waiters, submission_id: str, wait_s: float,
               done: Callable[[SubmissionRecord], bool]) -> SubmissionRecord | None:
    """The submission's record once ``done(record)`` holds or ``wait_s`` has passed (None if
    there is no such submission). Sleeps between changes instead of polling Redis."""
    deadline = time.monotonic() + wait_s
    with waiters.watch(submission_id) as watch:
        record = store.get_submission(submission_id)
        while record is not None and not done(record):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            watch.wait(remaining)
            record = store.get_submission(submission_id) or record
    return record


#: How long the pages' live status waits for a change before answering anyway.
PAGE_WAIT_S = 20.0


def page_status(store: Store, record: SubmissionRecord, since: str | None,
                who: str) -> SubmissionRecord:
    """The pages' live status: with ``since`` (the status the page shows), wait for the
    record to move on from it. Each signed-in account (``who``) holds at most
    ``MAX_POLLS_PER_TOKEN`` such waits (like a token's long polls); beyond that it answers at
    once and the page's script asks again a moment later."""
    if not since or since != record.status or record.finished:
        return record
    cap = int(current_app.config["MAX_POLLS_PER_TOKEN"])
    try:
        with long_poll(store, f"page:{who}", cap, PAGE_WAIT_S + 5):
            return wait_until(store, get_waiters(), record.id, PAGE_WAIT_S,
                              lambda r: r.status != since) or record
    except TooManyPolls:
        return record


def init_app(app: Flask) -> None:
    """Give the app its waiters (the listener starts with the first wait)."""
    app.extensions["grader.waiters"] = Waiters(app.extensions["grader.store"])


def get_waiters() -> Waiters:
    """The current app's waiters."""
    waiters: Waiters = current_app.extensions["grader.waiters"]
    return waiters
