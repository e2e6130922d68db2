"""The worker's unpack cache is trusted only after checking: a reference planted at
``<cache>/<slug>/<content_hash>`` (the hash is shown to learners) is never used, and a cache
folder that other users could write is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.records import ExerciseBundle, ExerciseInfo, StoredExercise
from common.spec import ExerciseError, ExerciseLibrary
from tests.service.conftest import COURSE
from worker.exercise_cache import CacheUnsafe, unpacked
from worker.service_config import ServiceSettings

PLANTED = "import os\nos.system('touch /tmp/pwned')\n"


def stored_exercise(tmp_path: Path) -> StoredExercise:
    folder = COURSE / "exercises" / "add-one"
    files = {p.relative_to(folder).as_posix(): p.read_text()
             for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    bundle = ExerciseBundle(slug="add-one", files=files,
                            reference=(COURSE / "reference" / "add-one.py").read_text())
    exercise = ExerciseLibrary(bundle.write_course(tmp_path / "validated")).load("add-one")
    return StoredExercise(info=ExerciseInfo.from_exercise(exercise, "upload"), bundle=bundle,
                          uploaded_at=0.0, uploaded_by="test")


def plant(cache: Path, stored: StoredExercise) -> Path:
    """What an attacker with write access to a shared cache would leave."""
    root = cache / "add-one" / stored.info.content_hash
    stored.bundle.write_course(root)
    (root / "reference" / "add-one.py").write_text(PLANTED)
    return root


def test_a_planted_reference_is_replaced_by_the_validated_one(tmp_path: Path) -> None:
    stored = stored_exercise(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    (cache / "add-one").mkdir(mode=0o700)
    plant(cache, stored)
    root = unpacked(cache, stored)
    assert (root / "reference" / "add-one.py").read_text() == stored.bundle.reference
    exercise = ExerciseLibrary(root).load("add-one")
    assert exercise.content_hash == stored.info.content_hash


def test_a_fresh_cache_is_private_and_reused_when_intact(tmp_path: Path) -> None:
    stored = stored_exercise(tmp_path)
    cache = tmp_path / "fresh" / "cache"
    root = unpacked(cache, stored)
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert ((cache / "add-one").stat().st_mode & 0o777) == 0o700
    marker = root / "exercises" / "add-one"
    before = marker.stat().st_ino
    assert unpacked(cache, stored) == root and marker.stat().st_ino == before


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o755 | 0o020])
def test_a_cache_other_users_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    stored = stored_exercise(tmp_path)
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(mode)
    with pytest.raises(CacheUnsafe, match="0700"):
        unpacked(cache, stored)


def test_a_cache_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder away")
    stored = stored_exercise(tmp_path)
    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    with pytest.raises(CacheUnsafe, match="uid 65534"):
        unpacked(cache, stored)


def test_a_symlinked_slug_folder_is_refused(tmp_path: Path) -> None:
    stored = stored_exercise(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (cache / "add-one").symlink_to(elsewhere)
    with pytest.raises(CacheUnsafe):
        unpacked(cache, stored)


def test_files_that_do_not_match_the_validated_hash_are_refused(tmp_path: Path) -> None:
    stored = stored_exercise(tmp_path)
    tampered = stored.model_copy(update={"bundle": stored.bundle.model_copy(
        update={"reference": PLANTED})})
    with pytest.raises(ExerciseError, match="content hash"):
        unpacked(tmp_path / "cache", tampered)


def test_the_default_cache_is_not_under_the_shared_temporary_folder() -> None:
    settings = ServiceSettings.from_env({})
    assert not str(settings.cache_dir).startswith("/tmp/")
    assert ServiceSettings.from_env({"GRADER_CACHE_DIR": "/srv/c"}).cache_dir == Path("/srv/c")
