"""Loading exercises: a malformed one is refused with the file and the field named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from common.spec import ExerciseError, ExerciseLibrary
from tests.conftest import FIXTURE_COURSE


def course_copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE_COURSE, tmp_path / "course")
    return tmp_path / "course"


def edit(course: Path, change: dict[str, object]) -> Path:
    path = course / "exercises" / "tiny-share" / "exercise.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(change)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("change, field", [
    ({"module": "astrology"}, "field module: Value error, unknown module 'astrology'"),
    ({"points": -1}, "field points"),
    ({"function": "not an identifier"}, "field function"),
    ({"cases": []}, "at least one case"),
    ({"checks": [{"name": "values", "wieght": 2}]}, "field checks.0.wieght"),
    ({"slug": "other-name"}, "field slug: 'other-name' differs from its folder"),
    ({"golden": [{"file": "golden/none.py", "expect": "correct"}]}, "field golden.file"),
])
def test_malformed_exercise_names_file_and_field(tmp_path: Path, change: dict[str, object],
                                                  field: str) -> None:
    course = course_copy(tmp_path)
    path = edit(course, change)
    with pytest.raises(ExerciseError) as info:
        ExerciseLibrary(course).load("tiny-share")
    assert str(path) in str(info.value)
    assert field in str(info.value)


def test_missing_statement_and_reference_are_named(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    (course / "exercises" / "tiny-share" / "statement.md").unlink()
    with pytest.raises(ExerciseError, match=r"statement\.md: file is missing"):
        ExerciseLibrary(course).load("tiny-share")
    course = course_copy(tmp_path / "again")
    (course / "reference" / "tiny-share.py").unlink()
    with pytest.raises(ExerciseError, match="reference solution is missing"):
        ExerciseLibrary(course).load("tiny-share")


def test_invalid_yaml_is_named(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    path = course / "exercises" / "tiny-share" / "exercise.yaml"
    path.write_text("slug: [unclosed\n")
    with pytest.raises(ExerciseError, match="not valid YAML"):
        ExerciseLibrary(course).load("tiny-share")


def test_content_hash_changes_with_the_exercise(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    before = ExerciseLibrary(course).load("tiny-share").content_hash
    (course / "reference" / "tiny-share.py").write_text("# changed\n" + (
        course / "reference" / "tiny-share.py").read_text())
    assert ExerciseLibrary(course).load("tiny-share").content_hash != before
