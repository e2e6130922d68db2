"""Uploaded exercises: the registry, staged uploads and their validation reports."""

from __future__ import annotations

import uuid

from common.records import ExerciseBundle, StoredExercise, ValidationOutcome
from common.store.base import StoreBase


class ExerciseRegistry(StoreBase):
    """Uploaded exercises: the registry, staged uploads and their validation reports."""

    def put_exercise(self, stored: StoredExercise) -> None:
        """Add or replace an uploaded exercise (it shadows a course exercise of the same slug)."""
        pipe = self._r.pipeline()
        pipe.set(self.key("exercise", stored.info.slug), stored.model_dump_json())
        pipe.hset(self.key("exercises"), stored.info.slug, stored.info.content_hash)
        pipe.incr(self.key("exercises", "version"))
        pipe.execute()

    def get_exercise(self, slug: str) -> StoredExercise | None:
        """An uploaded exercise, or None (then the course folder has it, or nobody)."""
        raw = self._r.get(self.key("exercise", slug))
        return StoredExercise.model_validate_json(raw) if raw else None

    def uploaded_exercises(self) -> list[StoredExercise]:
        """Every uploaded exercise."""
        slugs = sorted(self._r.hkeys(self.key("exercises")))
        raws = self._r.mget([self.key("exercise", s) for s in slugs]) if slugs else []
        return [StoredExercise.model_validate_json(r) for r in raws if r]

    def registry_version(self) -> int:
        """A number that changes whenever an uploaded exercise is added or replaced."""
        return int(self._r.get(self.key("exercises", "version")) or 0)

    def lock_exercise(self, slug: str, ttl_s: int) -> bool:
        """Claim the right to validate an upload of ``slug``; False if one is in progress."""
        return bool(self._r.set(self.key("exercise", slug, "lock"), "1", nx=True, ex=ttl_s))

    def unlock_exercise(self, slug: str) -> None:
        """Release :meth:`lock_exercise`."""
        self._r.delete(self.key("exercise", slug, "lock"))

    def stage_upload(self, bundle: ExerciseBundle, ttl_s: int) -> str:
        """Keep a bundle for the validation task; returns its upload id."""
        upload_id = uuid.uuid4().hex
        self._r.set(self.key("upload", upload_id), bundle.model_dump_json(), ex=ttl_s)
        return upload_id

    def get_upload(self, upload_id: str) -> ExerciseBundle | None:
        """A staged bundle, or None once expired."""
        raw = self._r.get(self.key("upload", upload_id))
        return ExerciseBundle.model_validate_json(raw) if raw else None

    def put_report(self, upload_id: str, outcome: ValidationOutcome, ttl_s: int) -> None:
        """The validation task's report on a staged bundle."""
        self._r.set(self.key("upload", upload_id, "report"), outcome.model_dump_json(),
                        ex=ttl_s)

    def get_report(self, upload_id: str) -> ValidationOutcome | None:
        """The report, once the validation task has written it."""
        raw = self._r.get(self.key("upload", upload_id, "report"))
        return ValidationOutcome.model_validate_json(raw) if raw else None
