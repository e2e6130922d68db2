"""Proving an exercise before it goes live (``grader exercises validate``).

For every exercise: its checks exist; the reference solution, graded like a submission, gets
full marks; every golden alternative correct solution gets full marks; every golden wrong
submission loses points on the checks it targets and its feedback names its misconceptions;
every misconception is exercised by some golden wrong submission; and, when the exercise names
a learning objective, some golden wrong submission fails it and every one that does scores at
most half the points.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from common.records import ValidationOutcome
from common.scoring import OBJECTIVE_CAP
from common.spec import Exercise, ExerciseError, GoldenSpec
from common.spec.contract import contract_problems
from worker.checks import CONTRACT
from worker.checks.base import UnknownCheckError, get_check
from worker.devices import resolve_device
from worker.pipeline import GraderError, Pipeline
from worker.reference import load_reference, reference_function


@dataclass
class ValidationReport:
    """What validating one exercise found: a line per submission graded, and the problems.

    Built up while validating; what crosses to the web (through the store) is its
    :meth:`outcome`, :class:`common.records.ValidationOutcome`.
    """

    slug: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the exercise may go live."""
        return not self.problems

    def outcome(self, content_hash: str = "") -> ValidationOutcome:
        """The report as the store keeps it and the API shows it."""
        return ValidationOutcome(ok=self.ok, lines=list(self.lines),
                                 problems=list(self.problems), content_hash=content_hash)


def _static_problems(pipeline: Pipeline, exercise: Exercise) -> list[str]:
    problems = []
    for spec in exercise.checks:
        try:
            get_check(spec.name)
        except UnknownCheckError as exc:
            problems.append(str(exc.args[0]))
    # A library made with the contract refused these at load, with their lines; this catches
    # them in an exercise loaded without it.
    problems += [f"exercise.yaml: field {'.'.join(map(str, location))}: {message}"
                 for location, message, _ in contract_problems(exercise, CONTRACT)]
    wanted = [exercise.function, *(m.output_matches for m in exercise.misconceptions
                                   if m.output_matches)]
    path = pipeline.library.reference_path(exercise.slug)
    try:
        if pipeline.sandboxed_reference:  # never imported here: read, not run
            defined = _defined_names(path)
            problems += [f"{path.name}: defines no function {n!r}" for n in wanted
                         if n not in defined]
        else:
            module = load_reference(path)
            for name in wanted:
                reference_function(module, name)
    except ExerciseError as exc:
        problems.append(str(exc))
    named = {m for g in exercise.golden for m in g.misconceptions}
    for m in exercise.misconceptions:
        if m.id not in named:
            problems.append(f"misconception {m.id!r} is named by no golden wrong submission")
    if not any(g.expect == "correct" for g in exercise.golden):
        problems.append("no golden alternative correct solution")
    if exercise.objective and not any(
        set(g.fails) & set(exercise.objective) for g in exercise.golden if g.expect == "wrong"
    ):
        problems.append("no golden wrong submission fails the learning objective "
                        f"({', '.join(exercise.objective)}): add one that does")
    return problems


def _defined_names(path: Path) -> set[str]:
    """Names a module binds at its top level (functions, classes, assignments, imports),
    read from its source without running it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=path.name)
    except (SyntaxError, ValueError, OSError) as exc:
        raise ExerciseError(f"{path.name}: the reference cannot be parsed: {exc}") from exc
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def validate_exercise(pipeline: Pipeline, exercise: Exercise) -> ValidationReport:
    """Validate one exercise by grading its reference and golden submissions."""
    report = ValidationReport(exercise.slug)
    report.problems += _static_problems(pipeline, exercise)
    if not exercise.objective:
        report.lines.append("note: no learning objective ('objective'): a submission that "
                            "misses the exercise's point is not capped at half the points")
    if report.problems:
        return report
    reference = pipeline.library.reference_path(exercise.slug).read_text(encoding="utf-8")
    submissions: list[tuple[str, str, str, GoldenSpec | None]] = [
        ("reference", "correct", reference, None)
    ]
    device = resolve_device(exercise.device)
    submissions += [
        (g.file, g.expect, (exercise.folder / g.file).read_text(encoding="utf-8"), g)
        for g in exercise.golden
        if not g.devices or device in g.devices
    ]
    for label, expect, source, golden in submissions:
        try:
            verdict = pipeline.grade(exercise, source)
        except GraderError as exc:
            report.problems.append(f"{label}: grading failed: {exc}")
            continue
        missed = " objective missed" if verdict.objective_missed else ""
        report.lines.append(
            f"{label}: {verdict.score:g}/{verdict.max_score:g} ({expect}{missed})")
        # A wrong submission may lose only extra credit (a copy where a view earns a bonus).
        failing = [c for c in verdict.checks if not c.passed]
        if expect == "correct":
            for check in (c for c in failing if not c.extra_credit):
                report.problems.append(
                    f"{label}: should get full marks but failed {check.name} on case "
                    f"{check.case}: {check.message}"
                )
            continue
        assert golden is not None
        half = exercise.points * OBJECTIVE_CAP
        if verdict.objective_missed and verdict.score > half:
            report.problems.append(
                f"{label}: fails the learning objective ({', '.join(verdict.objective_missed)}) "
                f"but scores {verdict.score:g}, more than half ({half:g})"
            )
        if not failing:
            report.problems.append(f"{label}: a wrong submission passed every check")
        failed_names = {c.name for c in failing}
        for target in golden.fails:
            if target not in failed_names:
                report.problems.append(f"{label}: should lose points on {target!r} but did not")
        named = {m for c in failing for m in c.misconceptions}
        for misconception in golden.misconceptions:
            if misconception not in named:
                report.problems.append(
                    f"{label}: its feedback should name misconception {misconception!r}; "
                    f"failed checks said: {sorted({c.message for c in failing})[:3]}"
                )
    return report
