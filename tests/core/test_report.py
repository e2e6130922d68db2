"""The text report ``grader check`` prints: hints are data, said once."""

from __future__ import annotations

from common.protocol import CaseReport, CheckResult, Hint, Verdict
from worker.report import render_text

HINT = Hint(misconception="copies", text="`torch.from_numpy(arr)` shares its memory.")


def _failed(case: str, visible: bool, hints: list[Hint]) -> CheckResult:
    message = "your result does not share memory with `arr`" if visible else (
        "failed on this hidden case (details of hidden cases are not shown)")
    return CheckResult(name="shares_memory", case=case, visible=visible, passed=False, score=0,
                       max_score=1, message=message, misconceptions=["copies"], hints=hints)


def test_text_report_prints_each_hint_under_its_message_and_points_at_repeats() -> None:
    verdict = Verdict(
        exercise="ex", status="failed", score=0, max_score=3,
        checks=[_failed("a", True, [HINT]), _failed("b", True, [HINT]),
                _failed("c", False, [])],
        cases=[CaseReport(name=n, visible=n != "c", status="returned") for n in "abc"],
    )
    text = render_text(verdict)
    assert text.count(f"Hint: {HINT.text}") == 1
    assert "Hint: the same as above." in text
    first = text.index("does not share memory")
    assert first < text.index(f"Hint: {HINT.text}")
    assert text.count("Hint:") == 2  # the hidden case shows none
