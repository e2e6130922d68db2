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
    ({"module": "astrology"}, "field module: unknown module 'astrology'"),
    ({"points": -1}, "field points"),
    ({"function": "not an identifier"}, "field function"),
    ({"cases": []}, "at least one case"),
    ({"checks": [{"name": "valeus"}]}, "unknown check 'valeus'; did you mean 'values'?"),
    ({"objective": ["copies"]}, "field objective.0: objective names unknown check 'copies'"),
    ({"checks": [{"name": "values", "wieght": 2}]}, "field checks.0.wieght"),
    ({"slug": "other-name"}, "field slug: 'other-name' differs from its folder"),
    ({"golden": [{"file": "golden/none.py", "expect": "correct"}]}, "field golden.0.file"),
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


def write_yaml(course: Path, text: str) -> Path:
    path = course / "exercises" / "tiny-share" / "exercise.yaml"
    path.write_text(text)
    return path


def problems_of(course: Path) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        ExerciseLibrary(course).load("tiny-share")
    return info.value


def test_every_schema_error_is_reported_with_its_line_and_a_caret(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    path = course / "exercises" / "tiny-share" / "exercise.yaml"
    text = path.read_text()
    text = text.replace("  - name: input_unchanged", "  - name: input_unchnaged")
    text = text.replace("module: numpy-interop", "module: numpy-interopp")
    text = text.replace("    weight: 3", "    wieght: 3")
    path.write_text(text)
    lines = text.splitlines()
    error = problems_of(course)
    found = {(p.field, p.line) for p in error.problems}
    assert found == {
        ("module", lines.index("module: numpy-interopp") + 1),
        ("checks.3.wieght", lines.index("    wieght: 3") + 1),
        ("checks.4.name", lines.index("  - name: input_unchnaged") + 1),
    }
    misspelled = next(p for p in error.problems if p.field == "checks.4.name")
    # Blamed on the check, not on the misconception that names the check correctly.
    assert misspelled.message == "unknown check 'input_unchnaged'; did you mean 'input_unchanged'?"
    assert misspelled.code == "  - name: input_unchnaged"
    assert misspelled.column == misspelled.code.index("input_unchnaged") + 1
    rendered = str(error)
    assert rendered.count("^") == 3 and f"{path}:" in rendered
    assert "misconception" not in rendered


def test_inconsistent_fields_are_each_blamed_on_their_line(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    path = course / "exercises" / "tiny-share" / "exercise.yaml"
    text = path.read_text().replace("    check: shares_memory", "    check: shares_memroy")
    text = text.replace("objective: [shares_memory]", "objective: [share_memory]")
    path.write_text(text)
    lines = text.splitlines()
    error = problems_of(course)
    assert {(p.field, p.line) for p in error.problems} == {
        ("misconceptions.0.check", lines.index("    check: shares_memroy") + 1),
        ("objective.0", lines.index("objective: [share_memory]") + 1),
    }
    assert all("did you mean 'shares_memory'?" in p.message for p in error.problems)


def test_a_yaml_error_keeps_its_line_and_caret(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    write_yaml(course, "slug: tiny-share\ncases:\n  - name: a\n   visible: true\n")
    (problem,) = problems_of(course).problems
    assert problem.line == 4 and problem.code == "   visible: true" and problem.column == 4
    assert problem.render().splitlines()[1:] == ["  4 |    visible: true", "         ^"]


def test_the_torch_free_check_names_are_the_registry() -> None:
    from common.spec.checknames import CHECK_NAMES
    from worker.checks.base import REGISTRY

    assert set(REGISTRY) == CHECK_NAMES
