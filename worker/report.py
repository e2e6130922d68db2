"""A verdict as text a learner reads in a terminal (``grader check`` without ``--json``)."""

from __future__ import annotations

from common.protocol import Verdict


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _once(message: str, shown: set[str]) -> str:
    """The message with any hint already shown above replaced by a pointer to it."""
    kept = []
    for line in message.splitlines():
        if line.startswith("Hint: "):
            if line in shown:
                line = "Hint: the same as above."
            shown.add(line)
        kept.append(line)
    return "\n".join(kept)


def render_text(verdict: Verdict) -> str:
    """The readable report: per case and check, passed or failed, points and message."""
    mark = "full marks" if verdict.status == "passed" else verdict.status
    lines = [f"{verdict.exercise}: {verdict.score:g} / {verdict.max_score:g} points ({mark})"]
    hints_shown: set[str] = set()
    for notice in verdict.notices:
        lines.append(f"NOTE: {notice}")
    if verdict.error:
        lines += ["", "Problem with your submission:", _indent(verdict.error, "  ")]
    for case in verdict.cases:
        where = "visible" if case.visible else "hidden"
        lines += ["", f"Case {case.name} ({where}): {case.status}"]
        for name, text in case.inputs.items():
            lines.append(_indent(f"{name} = {text}", "    "))
        if case.message and case.status != "returned":
            lines.append(_indent(case.message, "    "))
        for check in (c for c in verdict.checks if c.case == case.name):
            tick = "PASS" if check.passed else "FAIL"
            extra = " (extra credit)" if check.extra_credit else ""
            points = f"{check.score:g}/{check.max_score:g}"
            lines.append(f"  [{tick}] {check.name}{extra}: {points}")
            if not check.passed and check.message:
                lines.append(_indent(_once(check.message, hints_shown), "         "))
    if verdict.stdout:
        lines += ["", "Output of your code (visible cases):", _indent(verdict.stdout, "  | ")]
    return "\n".join(lines) + "\n"
