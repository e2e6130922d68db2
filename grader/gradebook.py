"""The gradebook as CSV (best score per learner and exercise), for the API's
``/api/v1/gradebook.csv`` and the instructors' page alike."""

from __future__ import annotations

import csv
import io

from grader.catalogue import get_catalogue
from grader.gradings import HISTORY_LIMIT, current_gradebook, learner_accounts
from grader.storage import get_store


def gradebook_csv() -> str:
    """One row per learner (every learner account, with or without a submission), one column
    per exercise (course order) with the best score of the current gradings of its graded
    submissions (empty: never graded), and the total."""
    store = get_store()
    learners, best = current_gradebook(store, learner_accounts(store), HISTORY_LIMIT)
    exercises = get_catalogue().all()
    known = {e.slug for e in exercises}
    # An exercise no longer offered still appears, after the offered ones.
    slugs = [e.slug for e in exercises] + sorted({s for _, s in best} - known)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", *slugs, "total"])
    for learner in learners:
        scores = [best.get((learner, slug)) for slug in slugs]
        total = sum(s for s in scores if s is not None)
        writer.writerow([learner, *("" if s is None else f"{s:g}" for s in scores),
                         f"{total:g}"])
    return out.getvalue()
