"""The exercises the web offers: the course folder's, shadowed by those uploaded through the
API (kept in the Redis registry), in the course notebook's order.

The course folder is read with :mod:`common.spec` (torch-free) and cached for a few seconds;
uploads are re-read whenever the registry's version changes.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from flask import Flask, current_app

from common.records import ExerciseInfo
from common.spec import MODULES, ExerciseError, ExerciseLibrary
from common.store import Store

logger = logging.getLogger(__name__)
_MODULE_ORDER = {m.key: i for i, m in enumerate(MODULES)}


class Catalogue:
    """Merged, cached view of the course folder and the uploaded exercises."""

    def __init__(self, course_dir: Path | None, store: Store, ttl_s: float) -> None:
        self.library = ExerciseLibrary(course_dir)
        self.store = store
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._course: dict[str, ExerciseInfo] = {}
        self._course_at = float("-inf")
        self._uploads: dict[str, ExerciseInfo] = {}
        self._uploads_version = -1

    def all(self) -> list[ExerciseInfo]:
        """Every exercise, in the notebook's order."""
        merged = {**self._course_infos(), **self._upload_infos()}
        return sorted(merged.values(),
                      key=lambda e: (_MODULE_ORDER.get(e.module, 99), e.order, e.slug))

    def get(self, slug: str) -> ExerciseInfo | None:
        """One exercise, or None."""
        return self._upload_infos().get(slug) or self._course_infos().get(slug)

    def _course_infos(self) -> dict[str, ExerciseInfo]:
        with self._lock:
            if time.monotonic() - self._course_at > self.ttl_s:
                infos = {}
                for slug in self.library.slugs():
                    try:
                        infos[slug] = ExerciseInfo.from_exercise(self.library.load(slug),
                                                                 "course")
                    except ExerciseError as exc:
                        logger.warning("skipping exercise %s: %s", slug, exc)
                self._course, self._course_at = infos, time.monotonic()
            return self._course

    def _upload_infos(self) -> dict[str, ExerciseInfo]:
        version = self.store.registry_version()
        with self._lock:
            if version != self._uploads_version:
                self._uploads = {s.info.slug: s.info for s in self.store.uploaded_exercises()}
                self._uploads_version = version
            return self._uploads


def init_app(app: Flask) -> None:
    """Create the app's catalogue over ``EXERCISES_DIR`` and the store's registry."""
    folder = app.config.get("EXERCISES_DIR")
    app.extensions["grader.catalogue"] = Catalogue(
        Path(folder) if folder else None, app.extensions["grader.store"],
        float(app.config["CATALOGUE_TTL_S"]),
    )


def get_catalogue() -> Catalogue:
    """The current app's catalogue."""
    catalogue: Catalogue = current_app.extensions["grader.catalogue"]
    return catalogue
