"""Finding and loading exercises from a course folder.

A course folder holds ``exercises/<slug>/`` (``exercise.yaml``, ``statement.md``, ``starter.py``,
golden submissions) and ``reference/<slug>.py``. The shipped course is the repository root; an
instructor points the grader at their own with ``--exercises DIR`` or ``GRADER_EXERCISES_DIR``.
DIR may be the course folder itself or its ``exercises/`` folder (then the references are read
from the sibling ``reference/`` folder).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from common.spec.contract import CheckContract, contract_problems
from common.spec.generators import GENERATED, LITERAL
from common.spec.model import (
    MODULE_KEYS,
    SLUG_PATTERN,
    Exercise,
    ExerciseError,
    InconsistentExercise,
)
from common.spec.problems import SpecProblem, at, render_all, yaml_problem

EXERCISE_FILE = "exercise.yaml"


def default_library_root() -> Path:
    """The course shipped with the grader: the repository this package was installed from."""
    return Path(__file__).resolve().parents[2]


class ExerciseLibrary:
    """The exercises of one course folder, loaded and validated on demand.

    With a ``contract`` (the worker's checks: ``worker.checks.CONTRACT``), loading also binds
    every check's arguments and misconception's details against what the checks declare
    (:mod:`common.spec.contract`).
    """

    def __init__(self, root: Path | str | None = None,
                 contract: CheckContract | None = None) -> None:
        self.contract = contract
        path = Path(root) if root is not None else default_library_root()
        path = path.resolve()
        if (path / "exercises").is_dir():
            self.exercises_dir = path / "exercises"
            self.reference_dir = path / "reference"
        elif path.is_dir():
            self.exercises_dir = path
            self.reference_dir = path.parent / "reference"
        else:
            raise ExerciseError(f"{path}: no such folder of exercises")

    def slugs(self) -> list[str]:
        """Slugs of every folder holding an ``exercise.yaml``, sorted by name."""
        return sorted(
            p.name
            for p in self.exercises_dir.iterdir()
            if p.is_dir() and (p / EXERCISE_FILE).is_file() and SLUG_PATTERN.fullmatch(p.name)
        )

    def __contains__(self, slug: object) -> bool:
        return isinstance(slug, str) and slug in self.slugs()

    def load(self, slug: str) -> Exercise:
        """Load one exercise; a malformed one raises ExerciseError naming the file and field."""
        if not SLUG_PATTERN.fullmatch(slug):
            raise ExerciseError(f"{slug!r} is not an exercise slug")
        return load_exercise(self.exercises_dir / slug, self.reference_path(slug), self.contract)

    def load_all(self) -> list[Exercise]:
        """Every exercise, in the course notebook's order; the first malformed one raises."""
        exercises, problems = self.scan()
        if problems:
            raise ExerciseError(next(iter(problems.values())))
        return exercises

    def scan(self) -> tuple[list[Exercise], dict[str, str]]:
        """The exercises that load, in the course notebook's order (module, then order, then
        slug), and the problem of each one that does not, by slug."""
        exercises, problems = [], {}
        for slug in self.slugs():
            try:
                exercises.append(self.load(slug))
            except ExerciseError as exc:
                problems[slug] = str(exc)
        exercises.sort(key=lambda e: (MODULE_KEYS.index(e.module), e.order, e.slug))
        return exercises, problems

    def reference_path(self, slug: str) -> Path:
        """Where the reference solution of ``slug`` lives (never shown to learners)."""
        return self.reference_dir / f"{slug}.py"

    def __iter__(self) -> Iterator[Exercise]:
        return iter(self.load_all())


def _fail(problems: list[SpecProblem]) -> ExerciseError:
    return ExerciseError(render_all(problems), problems)


def _read_yaml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise _fail([SpecProblem(str(path), "file is missing")]) from exc
    except UnicodeDecodeError as exc:
        raise _fail([SpecProblem(str(path), f"not UTF-8 text: {exc}")]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail([yaml_problem(text, str(path), exc)]) from exc
    if not isinstance(data, dict):
        raise _fail([SpecProblem(str(path), "expected a mapping at the top level", line=1)])
    return data, text


def _message(item: Any) -> str:
    """Pydantic's message without its "Value error, " prefix."""
    if item["type"] == "union_tag_invalid":  # a generator spec's `gen`
        context = item.get("ctx") or {}
        return (f"unknown generator {context.get('tag')!r}; known: "
                f"{str(context.get('expected_tags', '')).replace(chr(39), '')}")
    return str(item["msg"]).removeprefix("Value error, ")


def _yaml_location(location: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The location without the names pydantic gives the branches of a case argument's
    unions (``generated``, ``tensor``): they are not keys of the YAML."""
    kept: list[str | int] = []
    skip = 0
    for index, part in enumerate(location):
        if skip:
            skip -= 1
            continue
        if index >= 4 and location[index - 4:index - 2] == ("cases", location[index - 3]) and (
                location[index - 2] == "args") and part in (GENERATED, LITERAL):
            skip = 1 if part == GENERATED else 0  # the generator's kind follows its branch
            continue
        kept.append(part)
    return tuple(kept)


def _describe(error: ValidationError, text: str, file: str) -> list[SpecProblem]:
    """Every validation error, located in the YAML text."""
    problems = []
    for item in error.errors():
        location = _yaml_location(tuple(item["loc"]))
        if not location:
            problems.append(SpecProblem(file, _message(item), field="(top level)"))
            continue
        problems.append(at(text, file, location, _message(item),
                           at_value=item["type"] != "extra_forbidden"))
    return problems


# Loaded exercises by folder and whether a contract checked them, reused while no file of the
# exercise or its reference changed (a grading worker loads the same exercise for every
# submission).
_LOADED: dict[tuple[Path, bool], tuple[tuple[tuple[str, int, int], ...], Exercise]] = {}


def _fingerprint(folder: Path, reference: Path) -> tuple[tuple[str, int, int], ...]:
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    stats = []
    for path in [*files, reference]:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        stats.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(sorted(stats))


def load_exercise(folder: Path, reference: Path,
                  contract: CheckContract | None = None) -> Exercise:
    """Parse and validate ``folder/exercise.yaml`` and the files it names, binding its checks'
    arguments with ``contract`` when given (cached until one of them changes)."""
    key = (folder.resolve(), contract is not None)
    fingerprint = _fingerprint(folder, reference)
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    exercise = _parse_exercise(folder, reference, contract)
    _LOADED[key] = (fingerprint, exercise)
    return exercise


def _parse_exercise(folder: Path, reference: Path, contract: CheckContract | None) -> Exercise:
    yaml_path = folder / EXERCISE_FILE
    file = str(yaml_path)
    data, text = _read_yaml(yaml_path)
    problems = [at(text, file, (field,), "set by the loader, not the YAML")
                for field in ("statement", "starter", "folder", "content_hash") if field in data]
    exercise: Exercise | None = None
    try:
        exercise = Exercise.model_validate(data)
    except ValidationError as exc:
        problems += _describe(exc, text, file)
    except InconsistentExercise as exc:
        problems += [at(text, file, location, message) for location, message in exc.items]
    if exercise is not None and contract is not None:
        problems += [at(text, file, location, message, at_value)
                     for location, message, at_value in contract_problems(exercise, contract)]
    if data.get("slug") != folder.name and isinstance(data.get("slug"), str):
        problems.append(at(text, file, ("slug",),
                           f"{data['slug']!r} differs from its folder {folder.name!r}",
                           at_value=True))
    for field in ("statement.md", "starter.py"):
        if not (folder / field).is_file():
            problems.append(SpecProblem(str(folder / field), f"file is missing ({field[:-3]})"))
    for i, golden in enumerate(data.get("golden") or []):
        name = golden.get("file") if isinstance(golden, dict) else None
        if isinstance(name, str) and not (_inside(folder / name, folder)
                                          and (folder / name).is_file()):
            problems.append(at(text, file, ("golden", i, "file"), f"{name!r} is missing",
                               at_value=True))
    if not reference.is_file():
        problems.append(SpecProblem(str(reference), "the reference solution is missing"))
    if problems or exercise is None:
        raise _fail(problems)
    texts = {field: (folder / f"{field}.{ext}").read_text(encoding="utf-8")
             for field, ext in (("statement", "md"), ("starter", "py"))}
    return exercise.model_copy(
        update={**texts, "folder": folder, "content_hash": content_hash(folder, reference)}
    )


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def content_hash(folder: Path, reference: Path) -> str:
    """A hash of every file of the exercise and its reference: results record it for regrading."""
    digest = hashlib.sha256()
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in [*paths, reference]:
        digest.update(str(path.relative_to(path.parent if path == reference else folder)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
