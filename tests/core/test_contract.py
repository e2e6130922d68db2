"""The exercise contract, checked when an exercise loads: typed generator specs, check
arguments bound against each check's signature, misconception details against what each check
declares; and, while grading, a bug inside a check told apart from a wrong argument."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.spec import ExerciseError, ExerciseLibrary
from common.spec.problems import SpecProblem
from tests.conftest import FIXTURE_COURSE
from tests.core.test_spec import course_copy
from worker.checks import (
    REGISTRY,
    Check,
    CheckArgumentError,
    CheckBug,
    CheckOutcome,
    call_check,
    checked_library,
    dtype,
)
from worker.checks.base import failed
from worker.pipeline import GraderError, Pipeline


def _edited(tmp_path: Path, *replacements: tuple[str, str]) -> tuple[Path, list[str]]:
    course = course_copy(tmp_path)
    path = course / "exercises" / "tiny-share" / "exercise.yaml"
    text = path.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return course, text.splitlines()


def _problems(library: ExerciseLibrary) -> dict[str, SpecProblem]:
    with pytest.raises(ExerciseError) as info:
        library.load("tiny-share")
    return {p.field: p for p in info.value.problems}


def test_a_wrong_check_argument_is_an_exercise_error_at_load_with_file_field_and_line(
        tmp_path: Path) -> None:
    course, lines = _edited(tmp_path, ("    args: {input: arr}", "    args: {inptu: arr}"))
    problems = _problems(checked_library(course))
    wrong = problems["checks.3.args.inptu"]
    assert wrong.file.endswith("tiny-share/exercise.yaml")
    assert wrong.line == lines.index("    args: {inptu: arr}") + 1
    assert wrong.message == ("check 'shares_memory' takes no argument 'inptu'; did you mean "
                             "'input'? Its arguments: input, target (optional).")
    # Without its required argument the check is refused too, on the same line.
    assert problems["checks.3.args"].message.startswith(
        "check 'shares_memory' needs the argument 'input'.")


def test_a_check_argument_of_the_wrong_type_is_blamed_on_its_value(tmp_path: Path) -> None:
    course, lines = _edited(tmp_path, ("    args: {type: tensor}", "    args: {type: 3}"))
    (problem,) = _problems(checked_library(course)).values()
    assert problem.field == "checks.0.args.type"
    assert problem.line == lines.index("    args: {type: 3}") + 1
    assert problem.column == problem.code.index("3") + 1
    assert "argument 'type' should be str | None, got 3" in problem.message


def test_a_misconception_on_a_detail_its_check_does_not_report_is_refused_at_load(
        tmp_path: Path) -> None:
    course, lines = _edited(tmp_path, ("    check: shares_memory\n",
                                       "    check: shares_memory\n    details: {copyed: true}\n"))
    (problem,) = _problems(checked_library(course)).values()
    assert problem.field == "misconceptions.0.details.copyed"
    assert problem.line == lines.index("    details: {copyed: true}") + 1
    assert problem.message == ("check 'shares_memory' reports no detail 'copyed'; did you mean "
                               "'copied'? It reports: copied, swapped.")


def test_generator_specs_are_typed_at_load_even_without_the_checks(tmp_path: Path) -> None:
    course, lines = _edited(
        tmp_path,
        ("arr: {gen: array, shape: [2, 3], dtype: float64}",
         "arr: {gen: array, shape: [2, 3], dtype: float46, dsit: int}"),
        ("arr: {gen: array, shape: [3, 2], dtype: int64",
         "arr: {gen: arary, shape: [3, 2], dtype: int64"))
    # The web process's library: no checks, but the generators are part of the exercise model.
    problems = _problems(ExerciseLibrary(course))
    first = lines.index("      arr: {gen: array, shape: [2, 3], dtype: float46, dsit: int}") + 1
    assert {f: p.line for f, p in problems.items()} == {
        "cases.0.args.arr.dtype": first,
        "cases.0.args.arr.dsit": first,
        "cases.1.args.arr": first + 4,
    }
    assert problems["cases.1.args.arr"].message == (
        "unknown generator 'arary'; known: tensor, array")
    assert "'float32'" in problems["cases.0.args.arr.dtype"].message


def test_the_shipped_and_test_courses_keep_the_contract() -> None:
    for root in (FIXTURE_COURSE, FIXTURE_COURSE.parents[2]):
        exercises, problems = checked_library(root).scan()
        assert exercises and problems == {}


def _registered(monkeypatch: pytest.MonkeyPatch, function: object,
                details: frozenset[str] = frozenset()) -> None:
    monkeypatch.setitem(REGISTRY, "dtype", Check("dtype", function, (), details))  # type: ignore[arg-type]


def test_call_check_tells_wrong_arguments_from_a_bug_inside_the_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: object, target: str = "result") -> CheckOutcome:
        return len(None)  # type: ignore[arg-type]  # a TypeError inside the check

    _registered(monkeypatch, broken)
    with pytest.raises(CheckArgumentError, match="unexpected keyword argument 'taget'"):
        call_check("dtype", None, {"taget": "result"})  # type: ignore[arg-type]
    with pytest.raises(CheckBug, match="check 'dtype' raised TypeError"):
        call_check("dtype", None, {"target": "result"})  # type: ignore[arg-type]


def test_a_detail_a_check_does_not_declare_is_a_grader_bug(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _registered(monkeypatch, lambda ctx: failed("no", surprise=True), frozenset({"got"}))
    with pytest.raises(CheckBug, match=r"details it does not declare: \['surprise'\]"):
        call_check("dtype", None, {})  # type: ignore[arg-type]


def test_a_bug_inside_a_check_while_grading_is_reported_as_a_grader_bug(
        monkeypatch: pytest.MonkeyPatch, tiny_pipeline: Pipeline) -> None:
    def broken(ctx: object, target: str = "result", expected: str | None = None) -> CheckOutcome:
        raise TypeError("an internal mistake")

    _registered(monkeypatch, broken, REGISTRY["dtype"].details)
    source = (FIXTURE_COURSE / "exercises" / "tiny-share" / "golden" / "as_tensor.py").read_text()
    with pytest.raises(GraderError) as info:
        tiny_pipeline.grade("tiny-share", source)
    message = str(info.value)
    assert "a grader bug" in message and "an internal mistake" in message
    assert "wrong args" not in message


def test_every_check_declares_what_its_failures_report() -> None:
    assert REGISTRY["dtype"].details == frozenset({"got", "expected"})
    assert REGISTRY["dtype"].function is dtype
    assert all(isinstance(c.details, frozenset) for c in REGISTRY.values())


def test_the_details_table_of_the_exercise_format_is_the_registry() -> None:
    text = (FIXTURE_COURSE.parents[2] / "docs" / "exercise-format.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", text, flags=re.MULTILINE))
    assert set(rows) == set(REGISTRY)
    for name, check in REGISTRY.items():
        assert set(re.findall(r"`(\w+)`", rows[name])) == check.details, name
