"""The sweeper: no accepted submission stays ``queued`` or ``running`` for good.

A submission can be left without a task to grade it:

- the web process died between writing the record and sending the task (the record says
  ``queued`` and no message names it);
- the Celery main process died while its pool graded it (the record says ``running``, the
  worker's heartbeat has expired, and its message waits in the broker's unacknowledged set until
  the visibility timeout, 900 s by default).

Every worker's main process runs :func:`sweep` every ``sweep_interval_s`` (one worker at a time,
under a Redis lock) over the submissions accepted more than ``sweep_grace_s`` ago and not yet
finished (``P:pending``), and sends the grading task again for those above. A duplicate
delivery is harmless: grading records one verdict (:meth:`common.store.Store.finish`), and a
delivery of a finished submission does nothing. Torch-free (it runs in the main process).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from common.store import Store

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one sweep did: ids sent again (and why), finished ids dropped from the worklist."""

    requeued: dict[str, str] = field(default_factory=dict)
    dropped: int = 0


def sweep(store: Store, send: Callable[[str, str], None], grace_s: float,
          stale_running_s: float) -> SweepReport:
    """Send again the grading task of every stuck submission; ``send(id, queue)`` sends.

    Stuck, when no task for it waits in a queue, and it is ``queued`` (its task was never sent,
    or was taken by a worker that died before starting it: with prefetch 1 a live worker
    starts what it takes at once), or ``running`` on a worker whose heartbeat has expired, or
    ``running`` for longer than ``stale_running_s`` (past the hard time limit of any grading).
    """
    report = SweepReport()
    ids = store.pending(grace_s)
    if not ids:
        return report
    # As worker.celery_app.worker_identity names them.
    live = {f"{beat.name} pid {beat.pid}" for beat in store.workers()}
    waiting = store.messages_naming(ids, unacked=False)
    now = store.now()
    for submission_id in ids:
        record = store.get_submission(submission_id)
        if record is None or record.finished:
            store.unindex(submission_id)
            report.dropped += 1
            continue
        if submission_id in waiting:
            continue
        if record.status == "queued":
            reason = "queued, and no task waits for it"
        elif record.worker not in live:
            reason = f"running on {record.worker}, which has stopped"
        elif now - (record.started_at or now) > stale_running_s:
            reason = f"running for more than {stale_running_s:g} s"
        else:
            continue
        logger.warning("submission %s is %s: sending it again", submission_id, reason)
        send(submission_id, record.queue)
        report.requeued[submission_id] = reason
    return report
