"""What a run's outcome tells the learner: each case's status and message, the submission's
problem, and which hidden cases still need a run.

Hidden cases are told by status and at most an exception's *type*: learner code can put hidden
inputs into any message, traceback or load error it raises while it holds them.
"""

from __future__ import annotations

from common.protocol import CaseStatus, CodeProblem
from common.spec import CaseSpec, Exercise
from worker.observation import Observation
from worker.problems import load_problem, signature_problem, unfinished_load
from worker.runner import RunOutcome

CLEAN_ENDS = ("completed", "load_error")
HIDDEN_NOTE = "details of hidden cases are not shown"


def case_status(run: RunOutcome, case: str, observation: Observation | None) -> tuple[
    CaseStatus, str
]:
    """What happened to one case, in the learner's words."""
    if run.status == "tampering":
        return "tampering", run.message
    if observation is not None:
        error = observation.header.error
        if error is None:
            if run.status not in CLEAN_ENDS and run.running_case is None:
                # Every case had answered when the run went wrong (a crash, a protocol error,
                # a timeout after the last case): such a run never passes.
                return "crashed", (f"your function returned, but the run then ended badly: "
                                   f"{run.message}; a run that does not end cleanly earns no "
                                   "points")
            return "returned", ""
        if error.type == "MemoryError":
            return "memory_limit", "your function ran out of memory (MemoryError)"
        return "raised", f"your function raised {error.type}: {error.message}"
    if run.load_error is not None:
        return "not_run", ""  # the verdict's problem says why, once
    if run.running_case == case:
        status: CaseStatus = {
            "timeout": "timeout", "memory_limit": "memory_limit", "output_limit": "output_limit",
        }.get(run.status, "crashed")  # type: ignore[assignment]
        return status, f"{run.message} (during this case)"
    if run.status == "completed":
        return "not_run", "not run"
    where = f"case {run.running_case}" if run.running_case else "an earlier problem"
    # The case where the run ended says what happened; the ones after it only point there.
    return "not_run", f"not run: {where} ended the run"


def hidden_case_message(run: RunOutcome, status: CaseStatus, got: Observation | None) -> str:
    """A hidden case's message: its status and at most an exception's type; never a message,
    traceback, input or value (learner code can put hidden inputs into any of those)."""
    error = got.header.error if got is not None else run.load_error
    if status == "raised" and error is not None:
        return f"your function raised {error.type} ({HIDDEN_NOTE})"
    if status == "not_run" and error is not None:
        if error.type == "MissingFunction":
            return f"not run: {error.message}"
        return f"not run: loading your code raised {error.type} ({HIDDEN_NOTE})"
    return {
        "returned": "",
        "memory_limit": "your function ran out of memory on this case",
        "timeout": "your code did not finish in time on this case",
        "output_limit": "your code wrote too much output on this case",
        "crashed": "the process crashed or misbehaved on this case, so the run failed",
        "tampering": run.message,
        "not_run": "not run: an earlier problem ended the run",
    }.get(status, status)


def hidden_check_message(passed: bool, status: CaseStatus) -> str:
    """A hidden case's check message: that it failed, nothing more. A case that did not
    return says why once, on the case; its checks do not repeat it."""
    if passed or status != "returned":
        return ""
    return f"failed on this hidden case ({HIDDEN_NOTE})"


def code_problem(exercise: Exercise, runs: dict[str, RunOutcome], source: str,
                  hidden: set[str]) -> CodeProblem | None:
    """Why the submission could not run at all, if that is what happened: it did not load, its
    loading ran out of time or memory, or its function's parameters are not the signature's.
    A load error of the hidden cases' run alone is told by its type only: learner code can put
    what it read there (the hidden cases' specs, seeds) into a message or a traceback."""
    unique = _distinct_runs(runs, hidden)
    for run, is_hidden in unique:
        if run.load_error is not None and not is_hidden:
            return load_problem(run.load_error, source)
    for run, _ in unique:
        if run.load_error is not None:
            e = run.load_error
            if e.type == "MissingFunction":
                return CodeProblem(message=e.message)
            return CodeProblem(message=f"loading your code raised {e.type} in the hidden "
                                       f"cases' run ({HIDDEN_NOTE})")
    for run in runs.values():
        unfinished = unfinished_load(run)
        if unfinished is not None:
            return unfinished
    observations = [o for run in runs.values() for o in run.observations.values()]
    if len(observations) < len(exercise.cases):
        return None
    return signature_problem(exercise.function, exercise.signature, source, observations)


def hidden_not_reached(cases: tuple[CaseSpec, ...], run: RunOutcome) -> tuple[CaseSpec, ...]:
    """The hidden cases of a run of visible and hidden cases that ended before it reached
    them, for a reason other than the code itself (which failing to load, or tampering, is)."""
    if not any(c.visible for c in cases) or run.hidden_reached or run.load_error is not None:
        return ()
    if run.status in ("completed", "tampering"):
        return ()
    return tuple(c for c in cases if not c.visible)


def _distinct_runs(runs: dict[str, RunOutcome], hidden: set[str]) -> list[
    tuple[RunOutcome, bool]
]:
    """Each run once, with whether it held hidden cases only (its load error is then told by
    type alone; a run that also held visible cases loaded the code before any case)."""
    found: dict[int, tuple[RunOutcome, bool]] = {}
    for name, run in runs.items():
        _, only_hidden = found.get(id(run), (run, True))
        found[id(run)] = (run, only_hidden and name in hidden)
    return list(found.values())


def run_error(runs: dict[str, RunOutcome], hidden: set[str]) -> str | None:
    """The submission-level problem to report, if any: a load error or a run that ended early.
    Of the hidden cases' run only the exception's type and fixed texts are told."""
    unique = _distinct_runs(runs, hidden)
    for run, is_hidden in unique:
        if run.load_error is not None:
            e = run.load_error
            if e.type == "MissingFunction":
                return e.message
            if is_hidden:
                return (f"loading your code raised {e.type} in the hidden cases' run "
                        f"({HIDDEN_NOTE})")
            return f"loading your code raised {e.type}: {e.message}\n{e.traceback}".rstrip()
    problems = set()
    for run, is_hidden in unique:
        if run.status in ("completed",):
            continue
        if (is_hidden or run.hidden_reached) and run.status not in (
                "tampering", "timeout", "memory_limit", "output_limit"):
            problems.add(f"the run ended badly during the hidden cases ({run.status})")
        else:
            problems.add(run.message)
    return "; ".join(sorted(problems)) or None
