"""A run stopped for tampering is its own status wherever a verdict is shown: the results page,
the API's submission view, the instructors' statistics, and the CLI."""

from __future__ import annotations

from common.protocol import CaseReport, CheckResult, Verdict
from common.records import SubmissionRecord
from grader.api.models import SubmissionView
from grader.pages.analytics import tampering_reports
from grader.pages.results import result_view
from worker.report import render_text

EVENT = "sys._getframe (line 3 of submission.py)"


def _verdict(status: str = "tampering") -> Verdict:
    message = f"the grader stopped your code for tampering ({EVENT})"
    return Verdict(
        exercise="ex", status=status, score=0.0, max_score=2.0,  # type: ignore[arg-type]
        checks=[CheckResult(name="values", case="a", visible=True, passed=False, score=0.0,
                            max_score=2.0, message=message)],
        cases=[CaseReport(name="a", visible=True, status="tampering", message=message)],
        error=message, tampering=EVENT if status == "tampering" else None,
    )


def _record(**fields: object) -> SubmissionRecord:
    base: dict[str, object] = {"id": "s1", "exercise": "ex", "learner": "ann",
                               "status": "graded", "queue": "cpu", "finished_at": 1700000000.0}
    return SubmissionRecord.model_validate({**base, **fields})


def test_results_page_view_says_tampering() -> None:
    view = result_view(_record(), _verdict())
    assert view.tampering == EVENT and not view.full_marks
    assert view.cases[0].status_label == "stopped for tampering"


def test_api_view_carries_the_verdict_status_and_event() -> None:
    fields = SubmissionView.model_fields
    assert "verdict" in fields and "tampering" in fields
    view = SubmissionView(
        id="s1", exercise="ex", learner="ann", status="graded", score=0.0, max_score=2.0,
        passed=False, created_at=1.0, finished_at=2.0, queue="cpu", attempts=1,
        started_at=1.5, content_hash="h", error=None, checks=[], cases=[], stdout="",
        notices=[], callback=None, verdict="tampering", tampering=EVENT,
    )
    assert view.model_dump()["verdict"] == "tampering"


def test_instructors_see_who_when_and_which_event() -> None:
    verdicts = {"s1": _verdict(), "s2": _verdict("failed")}
    records = [_record(id="s1", learner="ann"), _record(id="s2", learner="bob"),
               _record(id="s3", learner="cy", status="queued")]
    found = tampering_reports(records, verdicts.get)
    assert [(t.learner, t.event, t.when) for t in found] == [("ann", EVENT, 1700000000.0)]


def test_cli_text_and_json_say_tampering() -> None:
    verdict = _verdict()
    assert "(tampering)" in render_text(verdict).splitlines()[0]
    assert '"status":"tampering"' in verdict.model_dump_json()


def test_results_page_renders_the_tampering_line_and_hides_hidden_messages() -> None:
    from flask import render_template

    from grader.app import create_app

    verdict = _verdict()
    verdict.cases.append(CaseReport(name="h", visible=False, status="tampering",
                                    message=verdict.error or ""))
    record = _record()
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SERVER_NAME": "localhost"})
    with app.test_request_context("/"):
        html = render_template("_result.html", record=record,
                               result=result_view(record, verdict), status_url="/s",
                               panel_url="/p")
    assert 'data-testid="tampering"' in html
    assert "Stopped for tampering" in html
