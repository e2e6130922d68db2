"""The trusted grading pipeline: cases → reference → learner (elsewhere) → checks → verdict.

Learner code never runs here. The reference solution of a course folder on disk does (it is
trusted), on inputs generated from each case's seed; the reference of an exercise uploaded
through the API or the pages runs in the runner like learner code (``sandboxed_reference``:
an instructor token must not mean code execution in the grading process), and its observations
are trusted for its own exercise only. The learner's function runs in a
:class:`~worker.runner.Runner` on the same inputs and sends back observations as data. Checks
compare the two; misconceptions turn failures into hints; weights turn results into a score.

Whatever the learner's code prints while it holds a hidden case's inputs never reaches the
learner: a runner that captures the two kinds of case apart (the sandbox) runs them all in one
run, visible cases first; any other runner gets one run for each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.protocol import CaseReport, CheckResult, CodeProblem, Hint, Verdict
from common.scoring import score_checks
from common.spec import CaseSpec, Exercise, ExerciseError, ExerciseLibrary
from worker.cases import build_inputs, describe_input
from worker.checks.base import (
    CheckArgumentError,
    CheckBug,
    CheckContext,
    CheckOutcome,
    call_check,
    get_check,
)
from worker.devices import resolve_device
from worker.harness.gpu import GPU_UNAVAILABLE
from worker.invocation import invoke
from worker.misconceptions import recognise
from worker.observation import Encoder, Observation, Value, decode
from worker.outcomes import (
    case_status,
    code_problem,
    hidden_case_message,
    hidden_check_message,
    hidden_not_reached,
    run_error,
)
from worker.problems import syntax_problem
from worker.reference import load_reference, reference_function
from worker.runner import DEFAULT_GPU_MEMORY_FRACTION, Job, Limits, Runner, RunOutcome

REFERENCE_OBSERVATION_BYTES = 256 * 2**20
# Reference observations are reused across submissions of an unchanged exercise, by every
# Pipeline of the process (the service makes one per grading). The content hash covers the
# exercise's files and its reference, so a changed exercise gets a new entry.
EXPECTED_CACHE_SIZE = 64
_EXPECTED_CACHE: OrderedDict[tuple[str, str, str], dict[str, Expected]] = OrderedDict()


class GraderError(Exception):
    """The grader (or an exercise) is at fault, not the learner."""


@dataclass
class Expected:
    """The trusted side's view of one case: original inputs and the reference's observation."""

    case: CaseSpec
    originals: dict[str, Value]
    observation: Observation
    shown_inputs: dict[str, str]
    twins: dict[str, Observation] = field(default_factory=dict)


def _observe(fn: Callable[..., Any], case: CaseSpec, device: str, probes: tuple[str, ...]) -> (
    Observation
):
    header, encoder = invoke(fn, case.name, build_inputs(case, device), probes,
                             REFERENCE_OBSERVATION_BYTES)
    return decode(header, dict(enumerate(encoder.arrays)))


def _originals(case: CaseSpec, device: str) -> dict[str, Value]:
    encoder = Encoder(REFERENCE_OBSERVATION_BYTES)
    header = {name: encoder.encode(value) for name, value in build_inputs(case, device).items()}
    observation = decode(
        {"case": case.name, "status": "returned", "inputs_after": header},
        dict(enumerate(encoder.arrays)),
    )
    return observation.inputs_after


class Pipeline:
    """Grades submissions for the exercises of one library with one runner."""

    def __init__(self, library: ExerciseLibrary, runner: Runner,
                 gpu_memory_fraction: float = DEFAULT_GPU_MEMORY_FRACTION,
                 sandboxed_reference: bool = False) -> None:
        self.library = library
        self.runner = runner
        self.gpu_memory_fraction = gpu_memory_fraction
        self.sandboxed_reference = sandboxed_reference

    def _reference_run(self, exercise: Exercise, function: str, cases: tuple[CaseSpec, ...],
                       device: str, with_probes: bool = True) -> dict[str, Observation]:
        """Run ``function`` of an uploaded reference in the runner, like learner code."""
        source = self.library.reference_path(exercise.slug).read_text(encoding="utf-8")
        job = Job(source=source, function=function, cases=cases, device=device,
                  probes={c.name: self._probes(exercise, c) if with_probes else ()
                          for c in cases},
                  limits=Limits(time_s=max(exercise.time_limit_s * 4, 30.0),
                                observation_bytes=REFERENCE_OBSERVATION_BYTES))
        run = self.runner.run(job)
        if run.load_error is not None:
            raise ExerciseError(f"{exercise.slug}: loading the reference failed: "
                                f"{run.load_error.type}: {run.load_error.message}")
        found = {}
        for case in cases:
            observation = run.observations.get(case.name)
            if observation is None:
                raise ExerciseError(f"{exercise.slug}: the reference did not return on case "
                                    f"{case.name!r}: {run.message or run.status}")
            found[case.name] = observation
        return found

    def grade(self, exercise: Exercise | str, source: str) -> Verdict:
        """Grade ``source`` against an exercise. Learner faults become failed checks with
        messages; exercise faults raise :class:`GraderError`."""
        if isinstance(exercise, str):
            exercise = self.library.load(exercise)
        syntax = syntax_problem(source)
        if syntax is not None:
            return self._unrunnable(exercise, syntax)
        device = resolve_device(exercise.device)
        try:
            expected = self._expected(exercise, device)
        except ExerciseError as exc:
            raise GraderError(str(exc)) from exc
        runs: dict[str, RunOutcome] = {}
        notices: list[str] = []
        stdout = ""
        for cases in self._parts(exercise):
            run = self._run(exercise, source, cases, device)
            for case in cases:
                runs[case.name] = run
            if any(c.visible for c in cases):
                stdout = run.stdout
            notices.extend(n for n in run.notices if n not in notices)
            left = hidden_not_reached(cases, run)
            if left:
                # The run ended in its visible part (a crash, a timeout): the hidden cases get
                # a run of their own, as they would have had the visible ones passed.
                again = self._run(exercise, source, left, device)
                runs.update((case.name, again) for case in left)
                notices.extend(n for n in again.notices if n not in notices)
        return self._verdict(exercise, expected, runs, stdout, notices, device, source)

    def _run(self, exercise: Exercise, source: str, cases: tuple[CaseSpec, ...],
             device: str) -> RunOutcome:
        job = Job(
            source=source,
            function=exercise.function,
            cases=cases,
            device=device,
            probes={c.name: self._probes(exercise, c) for c in cases},
            limits=Limits(time_s=exercise.time_limit_s,
                          gpu_memory_fraction=self.gpu_memory_fraction),
        )
        run = self.runner.run(job)
        if run.load_error is not None and run.load_error.type == GPU_UNAVAILABLE:
            # The worker's fault, not the learner's: no score for it.
            raise GraderError(run.load_error.message)
        return run

    def _parts(self, exercise: Exercise) -> list[tuple[CaseSpec, ...]]:
        """The cases of each run: all in one (visible first) when the runner keeps the hidden
        cases' output apart, else the visible ones, then the hidden ones."""
        visible = tuple(c for c in exercise.cases if c.visible)
        hidden = tuple(c for c in exercise.cases if not c.visible)
        if getattr(self.runner, "separates_hidden_output", False):
            return [visible + hidden]
        return [part for part in (visible, hidden) if part]

    @staticmethod
    def _probes(exercise: Exercise, case: CaseSpec) -> tuple[str, ...]:
        wanted: set[str] = set()
        for spec in exercise.checks_for(case):
            wanted.update(get_check(spec.name).probes)
        return tuple(sorted(wanted))

    def _expected(self, exercise: Exercise, device: str) -> dict[str, Expected]:
        """The reference's observations, computed once per exercise version and device."""
        key = (exercise.slug, exercise.content_hash, device)
        if key in _EXPECTED_CACHE:
            _EXPECTED_CACHE.move_to_end(key)
            return _EXPECTED_CACHE[key]
        expected = self._compute_expected(exercise, device)
        _EXPECTED_CACHE[key] = expected
        while len(_EXPECTED_CACHE) > EXPECTED_CACHE_SIZE:
            _EXPECTED_CACHE.popitem(last=False)
        return expected

    def _compute_expected(self, exercise: Exercise, device: str) -> dict[str, Expected]:
        observed: dict[str, Observation] = {}
        if self.sandboxed_reference:
            observed = self._reference_run(exercise, exercise.function, exercise.cases, device)
        else:
            module = load_reference(self.library.reference_path(exercise.slug))
            fn = reference_function(module, exercise.function)
            observed = {c.name: _observe(fn, c, device, self._probes(exercise, c))
                        for c in exercise.cases}
        result = {}
        for case in exercise.cases:
            observation = observed[case.name]
            if observation.header.error is not None:
                error = observation.header.error
                raise ExerciseError(
                    f"{exercise.slug}: the reference raised on case {case.name!r}: "
                    f"{error.type}: {error.message}\n{error.traceback}"
                )
            shown = (
                {n: describe_input(v) for n, v in build_inputs(case, device).items()}
                if case.visible else {}
            )
            result[case.name] = Expected(case, _originals(case, device), observation, shown)
        return result

    def _twin(self, exercise: Exercise, expected: Expected, name: str, device: str) -> (
        Observation
    ):
        if name not in expected.twins and self.sandboxed_reference:
            expected.twins[name] = self._reference_run(
                exercise, name, (expected.case,), device, with_probes=False)[expected.case.name]
        if name not in expected.twins:
            module = load_reference(self.library.reference_path(exercise.slug))
            fn = reference_function(module, name)
            expected.twins[name] = _observe(fn, expected.case, device, ())
        return expected.twins[name]

    def _verdict(
        self,
        exercise: Exercise,
        expected: dict[str, Expected],
        runs: dict[str, RunOutcome],
        stdout: str,
        notices: list[str],
        device: str,
        source: str,
    ) -> Verdict:
        items: list[tuple[CheckResult, float]] = []
        reports: list[CaseReport] = []
        problem = code_problem(exercise, runs, source,
                                {c.name for c in exercise.cases if not c.visible})
        for case in exercise.cases:
            run = runs[case.name]
            got = run.observations.get(case.name)
            status, case_message = case_status(run, case.name, got)
            if not case.visible:
                case_message = hidden_case_message(run, status, got)
            elif got is not None and got.header.error is not None and (
                    got.header.error.traceback):
                case_message += "\n" + got.header.error.traceback.rstrip()
            if problem is not None:
                case_message = ""  # the problem is told once, for the whole submission
            reports.append(CaseReport(
                name=case.name,
                visible=case.visible,
                status=status,
                message=case_message,
                inputs=expected[case.name].shown_inputs,
                duration_s=None if got is None else round(got.header.duration_s, 6),
            ))
            for spec in exercise.checks_for(case):
                outcome: CheckOutcome | None = None
                if status == "returned" and got is not None:
                    ctx = CheckContext(case, got, expected[case.name].observation,
                                       expected[case.name].originals, device)
                    try:
                        outcome = call_check(spec.name, ctx, spec.args)
                    except CheckArgumentError as exc:  # a library without the contract let it in
                        raise GraderError(f"{exercise.slug}: check {spec.key}: wrong args in "
                                          f"exercise.yaml: {exc}") from exc
                    except CheckBug as exc:
                        raise GraderError(f"{exercise.slug}: check {spec.key} failed inside the "
                                          f"grader (a grader bug, not a mistake in the exercise "
                                          f"or the submission): {exc}") from exc
                    passed, message = outcome.passed, outcome.message
                else:
                    # The case says why nothing could be checked; the check does not repeat it.
                    passed, message = False, ""
                names: list[str] = []
                hints: list[Hint] = []
                if not passed:
                    here = expected[case.name]

                    def twin(name: str, here: Expected = here) -> Observation:
                        return self._twin(exercise, here, name, device)

                    for m in exercise.misconceptions:
                        if m.check == spec.key and recognise(m, outcome, got, twin, device):
                            names.append(m.id)
                            hints.append(Hint(misconception=m.id, text=m.hint.strip()))
                if not case.visible:
                    # The misconception's name stays (instructors' statistics); its hint and
                    # the check's message, which may quote hidden values, do not.
                    message, hints = hidden_check_message(passed, status), []
                items.append((CheckResult(
                    name=spec.key, case=case.name, visible=case.visible, passed=passed,
                    score=0.0, max_score=0.0, message=message, hints=hints,
                    misconceptions=names, extra_credit=spec.extra_credit,
                    run=outcome is not None,
                ), spec.weight))
        hidden = {case.name for case in exercise.cases if not case.visible}
        error = problem.render() if problem is not None else run_error(runs, hidden)
        verdict = self._scored(exercise, items, reports, stdout, notices, error, problem)
        tampered = [r for r in runs.values() if r.status == "tampering"]
        if tampered:
            verdict.status = "tampering"
            verdict.score = 0.0
            verdict.extra_credit = 0.0
            verdict.tampering = tampered[0].tampering
            for check in verdict.checks:
                if check.passed or not check.message:
                    check.message = tampered[0].message
                check.passed, check.score = False, 0.0
        return verdict

    @staticmethod
    def _scored(
        exercise: Exercise,
        items: list[tuple[CheckResult, float]],
        reports: list[CaseReport],
        stdout: str,
        notices: list[str],
        error: str | None,
        problem: CodeProblem | None = None,
    ) -> Verdict:
        scored = score_checks(exercise, items)
        return Verdict(
            exercise=exercise.slug,
            status="passed" if scored.full_marks else "failed",
            score=scored.score,
            max_score=exercise.points,
            checks=[r for r, _ in items],
            cases=reports,
            stdout=stdout,
            error=error,
            content_hash=exercise.content_hash,
            notices=notices,
            problem=problem,
            objective_missed=scored.objective_missed,
            extra_credit=scored.extra_credit,
        )

    def _unrunnable(self, exercise: Exercise, problem: CodeProblem) -> Verdict:
        items = [
            (CheckResult(name=spec.key, case=case.name, visible=case.visible, passed=False,
                         score=0.0, max_score=0.0, message="", run=False,
                         extra_credit=spec.extra_credit), spec.weight)
            for case in exercise.cases for spec in exercise.checks_for(case)
        ]
        reports = [CaseReport(name=c.name, visible=c.visible, status="not_run")
                   for c in exercise.cases]
        return self._scored(exercise, items, reports, "", [], problem.render(), problem)
