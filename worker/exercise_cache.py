"""Where a worker unpacks uploaded exercises (``GRADER_CACHE_DIR``), trusted only after checking.

The files of an uploaded exercise come from Redis (:class:`~common.store.StoredExercise`); the
worker writes them to disk to grade with them, and its reference solution is imported by the
trusted side. So the cache must be nobody else's to write: a reference planted at
``<cache>/<slug>/<content_hash>`` (the hash is shown to learners) would otherwise run as the
worker's user. Therefore:

- the cache folder and each slug folder are the worker user's own, mode 0700, not symlinks
  (an existing folder that is not is refused: :class:`CacheUnsafe`);
- an exercise is unpacked into a fresh private folder, its content hash recomputed and compared
  with the hash the upload was validated under, and only then renamed into place;
- a folder already in place is used only if its content hash still matches; otherwise it is
  replaced by a fresh unpack.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from common.records import StoredExercise
from common.spec import ExerciseError
from common.spec.library import content_hash


class CacheUnsafe(Exception):
    """The cache folder could be written by someone other than this worker's user."""


def private_dir(path: Path) -> Path:
    """``path`` as a folder of this user's own, mode 0700 (created so if missing)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise CacheUnsafe(f"{path} is not a plain folder")
    if info.st_uid != os.geteuid():
        raise CacheUnsafe(f"{path} belongs to uid {info.st_uid}, not to this worker "
                          f"(uid {os.geteuid()}); point GRADER_CACHE_DIR at a private folder")
    if info.st_mode & 0o077:
        raise CacheUnsafe(f"{path} is open to other users (mode {info.st_mode & 0o777:o}); "
                          "it must be 0700")
    return path


def _hash_of(root: Path, slug: str) -> str | None:
    folder, reference = root / "exercises" / slug, root / "reference" / f"{slug}.py"
    if not folder.is_dir() or not reference.is_file():
        return None
    try:
        return content_hash(folder, reference)
    except OSError:
        return None


def unpacked(cache_dir: Path, stored: StoredExercise) -> Path:
    """The course folder holding ``stored``, unpacked and checked against its content hash."""
    slug, expected = stored.info.slug, stored.info.content_hash
    slug_dir = private_dir(private_dir(cache_dir) / slug)
    target = slug_dir / expected
    if os.path.lexists(target):
        if not os.path.islink(target) and _hash_of(target, slug) == expected:
            return target
        # Not what was validated (planted, or damaged): never used, replaced below.
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, ignore_errors=True)
        else:
            os.unlink(target)
    staging = Path(tempfile.mkdtemp(dir=slug_dir, prefix=".unpack-"))  # 0700, fresh
    try:
        stored.bundle.write_course(staging)
        if _hash_of(staging, slug) != expected:
            raise ExerciseError(f"the stored files of exercise {slug!r} do not match the "
                                "content hash they were validated under")
        os.rename(staging, target)
    except OSError:
        # Another process unpacked it first: use theirs only if it checks out.
        shutil.rmtree(staging, ignore_errors=True)
        if _hash_of(target, slug) != expected:
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
