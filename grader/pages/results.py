"""What the result panel shows of a submission: its verdict arranged per case, then per check.

Visible cases show their inputs and every check with its points, message and hints; hidden
cases show only whether they passed and the messages of what failed. A submission that could
not run shows its problem once and its checks as not run. Captured output is capped here,
whatever the worker kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from common.protocol import CaseReport, CheckResult, CodeProblem, Verdict
from common.records import SubmissionRecord
from common.scoring import objective_notice
from grader.pages.statement import render_inline

OUTPUT_CAP = 10_000

CASE_STATUS_LABELS = {
    "returned": "returned",
    "raised": "raised an exception",
    "timeout": "ran out of time",
    "memory_limit": "used too much memory",
    "output_limit": "printed too much",
    "crashed": "crashed",
    "not_run": "not run",
    "tampering": "stopped for tampering",
}


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def code_spans(text: str) -> Markup:
    """Plain text with its `backticked` spans as ``<code>``; everything else escaped (messages
    hold values such as ``a*b`` or ``x_1`` that Markdown would turn into emphasis)."""
    parts, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup("<code>%s</code>") % match.group(1))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def _without_not_run(message: str) -> str:
    """A case message without the "not run: " the status label already says."""
    return message.removeprefix("not run: ").removeprefix("not run")


@dataclass(frozen=True)
class CheckView:
    """One check on one case: its message and the hints of the misconceptions recognised."""

    name: str
    passed: bool
    score: float
    max_score: float
    extra_credit: bool
    message: str
    hints: list[Markup]
    misconceptions: list[str]
    # The cases whose hint this check's mistake repeats (shown there, not again here).
    repeated: list[str] = field(default_factory=list)
    run: bool = True
    objective: bool = False

    @property
    def message_html(self) -> Markup:
        """The message with its code spans rendered."""
        return code_spans(self.message)

    @property
    def labelled_hints(self) -> list[tuple[str, Markup]]:
        """Each hint with the id of the misconception it explains (in the pipeline's order)."""
        return list(zip(self.misconceptions, self.hints, strict=True))

    @classmethod
    def of(cls, result: CheckResult, shown: dict[str, str]) -> CheckView:
        """The check with its hints; a hint already in ``shown`` (from an earlier case, by
        misconception: the case that showed it) is not repeated, only pointed at."""
        hints, misconceptions, repeated = [], [], []
        for hint in result.hints:
            key = hint.misconception or hint.text
            if key in shown:
                if shown[key] not in repeated:
                    repeated.append(shown[key])
                continue
            shown[key] = result.case
            hints.append(render_inline(hint.text))
            misconceptions.append(hint.misconception)
        return cls(name=result.name, passed=result.passed, score=result.score,
                   max_score=result.max_score, extra_credit=result.extra_credit,
                   message=result.message.strip(), hints=hints, misconceptions=misconceptions,
                   repeated=repeated, run=result.run, objective=result.objective)


@dataclass(frozen=True)
class CaseView:
    """One case: how it ran, its inputs when visible, and its checks."""

    name: str
    visible: bool
    status: str
    status_label: str
    message: str
    inputs: dict[str, str]
    duration_s: float | None
    checks: list[CheckView]
    # An earlier case (in page order) whose message this one's repeats, said once there.
    same_as: str | None = None

    @property
    def passed(self) -> bool:
        """Every check that counts passed."""
        return self.status == "returned" and all(c.passed for c in self.checks
                                                 if not c.extra_credit)

    @property
    def score(self) -> float:
        """Points earned on this case (extra credit apart)."""
        return round(sum(c.score for c in self.checks if not c.extra_credit), 2)

    @property
    def max_score(self) -> float:
        """Points this case is worth (extra credit apart)."""
        return round(sum(c.max_score for c in self.checks if not c.extra_credit), 2)

    @property
    def extra_score(self) -> float:
        """Extra credit earned on this case."""
        return round(sum(c.score for c in self.checks if c.extra_credit), 2)

    @property
    def ran(self) -> bool:
        """The function returned, so its checks looked at something."""
        return any(c.run for c in self.checks)

    @property
    def failed_messages(self) -> list[CheckView]:
        """The failed checks that have something to say (what a hidden case shows)."""
        return [c for c in self.checks if not c.passed and (c.message or c.hints)]


@dataclass(frozen=True)
class ResultView:
    """A finished submission as the result panel shows it."""

    status: str
    score: float
    max_score: float
    full_marks: bool
    error: str | None
    notices: list[str]
    cases: list[CaseView]
    stdout: str
    stdout_truncated: bool
    check_totals: list[tuple[str, int, int]] = field(default_factory=list)
    tampering: str | None = None  # what the tripwire saw (the run earned no points)
    problem: CodeProblem | None = None
    objective: Markup | None = None  # why the score is capped at half, when it is
    extra_credit: float = 0.0

    @property
    def regular_score(self) -> float:
        """The score without extra credit (what the maximum is the maximum of)."""
        return round(self.score - self.extra_credit, 2)

    @property
    def percent(self) -> int:
        """The score as a whole percentage of the maximum (extra credit apart)."""
        return round(100 * self.regular_score / self.max_score) if self.max_score else 0

    @property
    def problem_hint(self) -> Markup | None:
        """The problem's hint with its code spans rendered."""
        return render_inline(self.problem.hint) if self.problem and self.problem.hint else None

    @property
    def visible_cases(self) -> list[CaseView]:
        """Cases whose inputs the learner sees."""
        return [c for c in self.cases if c.visible]

    @property
    def hidden_cases(self) -> list[CaseView]:
        """Cases the learner sees only as passed or failed."""
        return [c for c in self.cases if not c.visible]


def result_view(record: SubmissionRecord, verdict: Verdict | None) -> ResultView:
    """Arrange a finished submission for the page (a failed one has an error and no cases)."""
    if verdict is None:
        return ResultView(status=record.status, score=record.score or 0.0,
                          max_score=record.max_score or 0.0, full_marks=False,
                          error=record.error or "the grader could not grade this submission",
                          notices=[], cases=[], stdout="", stdout_truncated=False)
    by_case: dict[str, list[CheckResult]] = {}
    for check in verdict.checks:
        by_case.setdefault(check.case, []).append(check)
    reports = verdict.cases or [CaseReport(name=n, visible=c[0].visible, status="returned")
                                for n, c in by_case.items()]
    shown: dict[str, str] = {}
    said: dict[str, str] = {}  # case messages already shown, by the case that showed them
    # Visible cases come first on the page, so their hints are the ones spelled out.
    ordered = sorted(reports, key=lambda r: not r.visible)
    views = {}
    for r in ordered:
        message = _without_not_run(r.message.strip()).strip()
        same_as = said.get(message) if message else None
        if message and same_as is None:
            said[message] = r.name
        views[r.name] = CaseView(
            name=r.name, visible=r.visible, status=r.status,
            status_label=CASE_STATUS_LABELS.get(r.status, r.status),
            message="" if same_as else message, same_as=same_as,
            inputs=dict(r.inputs) if r.visible else {}, duration_s=r.duration_s,
            checks=[CheckView.of(c, shown) for c in by_case.get(r.name, [])])
    cases = [views[r.name] for r in reports]
    totals: dict[str, list[int]] = {}
    for check in verdict.checks:
        if not check.extra_credit:
            passed_total = totals.setdefault(check.name, [0, 0])
            passed_total[0] += int(check.passed)
            passed_total[1] += 1
    stdout = verdict.stdout
    objective = (code_spans(objective_notice(verdict.max_score, verdict.objective_missed))
                 if verdict.objective_missed and verdict.problem is None else None)
    return ResultView(
        status=record.status, score=verdict.score, max_score=verdict.max_score,
        full_marks=verdict.full_marks,
        # The problem is shown in its own block; the error repeats it as text.
        error=record.error or (None if verdict.problem else verdict.error),
        notices=list(verdict.notices), cases=cases, stdout=stdout[:OUTPUT_CAP],
        stdout_truncated=len(stdout) > OUTPUT_CAP,
        check_totals=[(name, p, t) for name, (p, t) in totals.items()],
        tampering=verdict.tampering,
        problem=verdict.problem, objective=objective, extra_credit=verdict.extra_credit,
    )
