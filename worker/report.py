"""A verdict as text a learner reads in a terminal (``grader check`` without ``--json``).

Each thing is said once: a submission that cannot run shows its error (line and caret) once and
lists the checks as not run; a case that did not return lists its checks as not checked instead
of repeating its error under each; an error already shown on an earlier case is named, not
repeated.
"""

from __future__ import annotations

from common.protocol import CaseReport, CheckResult, Verdict
from common.scoring import objective_notice


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def points(value: float) -> str:
    """A score with at most two decimals: ``6.67``, ``10``."""
    return f"{round(value, 2):g}"


def _hint_lines(check: CheckResult, shown: set[str]) -> str:
    """The check's hints, one ``Hint:`` line each; a hint already shown above is pointed at."""
    lines = []
    for hint in check.hints:
        line = f"Hint: {hint.text}"
        lines.append("Hint: the same as above." if line in shown else line)
        shown.add(line)
    return "\n".join(lines)


def _explanation(check: CheckResult, hints_shown: set[str]) -> str:
    """What a failed check says: its message, then its hints."""
    return "\n".join(part for part in (check.message, _hint_lines(check, hints_shown)) if part)


def _headline(verdict: Verdict) -> str:
    mark = "full marks" if verdict.status == "passed" else verdict.status
    regular = verdict.score - verdict.extra_credit
    extra = f" + {points(verdict.extra_credit)} extra credit" if verdict.extra_credit else ""
    return (f"{verdict.exercise}: {points(regular)} / {points(verdict.max_score)} points"
            f"{extra} ({mark})")


def _not_run(verdict: Verdict) -> list[str]:
    names = list(dict.fromkeys(c.name for c in verdict.checks))
    return ["", f"No check ran on any of the {len(verdict.cases)} cases: "
                f"{', '.join(names)}."]


def _check_lines(check: CheckResult, hints_shown: set[str]) -> list[str]:
    tick = "PASS" if check.passed else "FAIL"
    if check.extra_credit:
        line = f"  [{tick}] {check.name} (extra credit): +{points(check.score)}"
    else:
        line = f"  [{tick}] {check.name}: {points(check.score)}/{points(check.max_score)}"
    lines = [line + (" (learning objective)" if check.objective and not check.passed else "")]
    if (check.message or check.hints) and (not check.passed or check.extra_credit):
        lines.append(_indent(_explanation(check, hints_shown), "         "))
    return lines


def _case_lines(verdict: Verdict, case: CaseReport, hints_shown: set[str],
                messages: dict[str, str]) -> list[str]:
    where = "visible" if case.visible else "hidden"
    lines = ["", f"Case {case.name} ({where}): {case.status}"]
    for name, text in case.inputs.items():
        lines.append(_indent(f"{name} = {text}", "    "))
    if case.message and case.status != "returned":
        earlier = messages.get(case.message)
        text = f"the same as case {earlier}" if earlier else case.message
        messages.setdefault(case.message, case.name)
        lines.append(_indent(text, "    "))
    checks = [c for c in verdict.checks if c.case == case.name]
    unchecked = [c for c in checks if not c.run]
    if unchecked:
        lines.append(f"  not checked: {', '.join(c.name for c in unchecked)}")
        for check in unchecked:
            if check.message or check.hints:
                lines.append(_indent(_explanation(check, hints_shown), "         "))
    for check in (c for c in checks if c.run):
        lines += _check_lines(check, hints_shown)
    return lines


def render_text(verdict: Verdict) -> str:
    """The readable report: per case and check, passed or failed, points and message."""
    lines = [_headline(verdict)]
    for notice in verdict.notices:
        lines.append(f"NOTE: {notice}")
    if verdict.objective_missed and verdict.problem is None:
        lines.append(f"NOTE: {objective_notice(verdict.max_score, verdict.objective_missed)}")
    if verdict.problem is not None:
        lines += ["", "Your code did not run:", _indent(verdict.problem.render(), "  ")]
        if verdict.problem.traceback:
            lines += [_indent(verdict.problem.traceback, "  ")]
        lines += _not_run(verdict)
    else:
        if verdict.error:
            lines += ["", "Problem with your submission:", _indent(verdict.error, "  ")]
        hints_shown: set[str] = set()
        messages: dict[str, str] = {}
        for case in verdict.cases:
            lines += _case_lines(verdict, case, hints_shown, messages)
    if verdict.stdout:
        lines += ["", "Output of your code (visible cases):", _indent(verdict.stdout, "  | ")]
    return "\n".join(lines) + "\n"
