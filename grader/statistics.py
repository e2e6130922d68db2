"""What the store's counters say (only the web reads them): submissions by status, latency,
pass rates per check, the score histogram and the gradebook's best scores."""

from __future__ import annotations

from common.records import (
    LATENCY_BUCKETS,
    SCORE_BUCKETS,
    STATUSES,
    CheckRate,
    ExerciseStats,
)
from common.store import Store


def _bound_label(bound: float) -> str:
    # The label Lua's tostring() gives a bound (integers print without a decimal point).
    return str(int(bound)) if bound == int(bound) else repr(bound)


class Statistics:
    """The counters :meth:`common.store.Store.finish` keeps (``P:counts``, ``P:latency``,
    ``P:stats:*``, ``P:gradebook``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._r = store._r
        self.key = store.key

    def counts(self) -> dict[str, int]:
        """Submissions by status."""
        raw = self._r.hgetall(self.key("counts"))
        return {status: int(raw.get(status, 0)) for status in STATUSES}

    def latency(self) -> tuple[list[tuple[float, int]], int, float]:
        """The latency histogram: (upper bound, count) per bucket (the last bound +Inf),
        the total count and the sum of latencies."""
        raw = self._r.hgetall(self.key("latency"))
        buckets = [(b, int(raw.get(_bound_label(b), 0))) for b in LATENCY_BUCKETS]
        buckets.append((float("inf"), int(raw.get("+Inf", 0))))
        return buckets, int(raw.get("count", 0)), float(raw.get("sum", 0.0))

    def stats(self, slug: str) -> ExerciseStats:
        """Pass rate per check and the score histogram of one exercise."""
        raw = self._r.hgetall(self.key("stats", slug))
        names = sorted({k[len("check:"):k.rindex(":")] for k in raw if k.startswith("check:")})
        checks = [
            CheckRate(name=n, passed=int(raw.get(f"check:{n}:passed", 0)),
                      total=int(raw.get(f"check:{n}:total", 0)))
            for n in names
        ]
        scores = self._r.hgetall(self.key("stats", slug, "scores"))
        return ExerciseStats(
            exercise=slug, graded=int(raw.get("graded", 0)), checks=checks,
            score_buckets=[int(scores.get(str(i), 0)) for i in range(SCORE_BUCKETS)],
        )

    def gradebook(self) -> dict[tuple[str, str], float]:
        """Best score by (learner, exercise)."""
        raw = self._r.hgetall(self.key("gradebook"))
        result = {}
        for field, value in raw.items():
            learner, _, slug = field.partition("\x1f")
            result[(learner, slug)] = float(value)
        return result
