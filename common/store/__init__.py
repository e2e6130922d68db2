"""The Redis store shared by the web process and the workers: the one module that knows the keys.

Torch-free: the web process imports it. Everything crossing Redis is a typed model defined here
(:class:`SubmissionRecord`, :class:`TokenRecord`, :class:`StoredExercise`...), and every state
change that must happen exactly once (accepting a submission, starting an attempt, finishing)
is one Lua script, so a redelivered task or a retried request cannot count twice.

Key layout (``P`` is the key prefix, ``grader`` by default, ``GRADER_KEY_PREFIX``):

=====================================  =======  ==============================================
key                                    type     holds
=====================================  =======  ==============================================
``P:submission:<id>``                  hash     the :class:`SubmissionRecord` (fields as text)
``P:submission:<id>:source``           string   the learner's source code (kept)
``P:submission:<id>:result``           string   the :class:`~common.protocol.Verdict` as JSON
``P:learner:<learner>:submissions``    zset     submission ids scored by time accepted
``P:idempotency:<caller>:<key>``       string   ``"<id> <fingerprint>"``, expires (24 h)
``P:pending``                          zset     ids of submissions not yet finished, scored by
                                                time accepted (the sweeper's worklist)
``P:sweeper``                          string   a sweep is under way (expires)
``P:events:submissions``               channel  pub/sub: ``"<id> <status>"`` when a submission
                                                starts or finishes (the web's long polls)
``P:counts``                           hash     submissions by status (queued, running...)
``P:latency``                          hash     accept-to-finish latency histogram buckets
``P:stats:<slug>``                     hash     ``graded``, ``check:<name>:passed|total``
``P:stats:<slug>:scores``              hash     score bucket (0..10, tenths of max) -> count
``P:gradebook``                        hash     ``<learner>\x1f<slug>`` -> best score
``P:token:<sha256>``                   hash     a :class:`TokenRecord` (the token is not kept)
``P:tokens``                           hash     token id -> sha256 (to list and revoke)
``P:exercises``                        hash     slug -> content hash of uploaded exercises
``P:exercises:version``                int      bumped whenever the registry changes
``P:exercise:<slug>``                  string   a :class:`StoredExercise` (info + bundle)
``P:exercise:<slug>:lock``             string   an upload of this slug is being validated
``P:upload:<id>``                      string   an :class:`ExerciseBundle` awaiting validation
``P:upload:<id>:report``               string   its :class:`ValidationOutcome`
``P:workers``                          set      names of workers that sent a heartbeat
``P:worker:<name>``                    string   a :class:`WorkerBeat`, expires
``P:broker:*``                         (kombu)  Celery's queues (``cpu``, ``gpu``, ``callbacks``)
                                                and unacked messages
``P:ratelimit:*``                      (limits) the web's rate-limit counters
=====================================  =======  ==============================================

Times are Redis server time (``TIME``), so the web and the workers share one clock.
The deployment runs Redis with append-only persistence: nothing here expires except the
idempotency keys, staged uploads, locks and heartbeats.

The task contract between the web and the workers (queue names, task names, routing) is in
:mod:`common.contract`.
"""

from __future__ import annotations

from common.store.base import StoreBase
from common.store.exercises import ExerciseRegistry
from common.store.submissions import SubmissionStore
from common.store.workers import WorkerRegistry

__all__ = ["Store", "StoreBase"]


class Store(SubmissionStore, ExerciseRegistry, WorkerRegistry):
    """Typed access to the grader's Redis keys, one part per concern. Safe to share between
    threads. What only the web reads (tokens, statistics) is in :mod:`grader.tokens` and
    :mod:`grader.statistics`."""
