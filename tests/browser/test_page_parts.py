"""The pure parts behind the pages, without a browser: statements rendered safely, results
arranged per case, bundles read from uploads, diffs, regrade selection and statistics."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser

import pytest
from werkzeug.datastructures import FileStorage

from common.protocol import CaseReport, CheckResult, CodeProblem, Hint, Verdict
from common.records import SubmissionRecord
from grader.gradings import best_scores, current_gradings, stats_of
from grader.pages.analytics import attempts_to_full_marks, failing_checks, mistake_of
from grader.pages.attempts import diff
from grader.pages.bundles import BundleError, from_files, from_zip
from grader.pages.charts import bar_chart, score_bars
from grader.pages.filters import plural
from grader.pages.regrade import out_of_date
from grader.pages.results import result_view
from grader.pages.session import safe_next
from grader.pages.statement import render_inline, render_markdown

HOSTILE = """# Title

<script>alert(1)</script>
<img src=x onerror="alert(2)">
[link](javascript:alert(3)) [ok](https://example.org)
<a href="javascript:alert(4)">raw</a>
![img](javascript:alert(5))
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==)
"""


class _Elements(HTMLParser):
    """Every element of an HTML fragment with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.found


def test_statement_with_script_and_javascript_links_renders_without_either() -> None:
    found = elements(str(render_markdown(HOSTILE)))
    assert "script" not in {tag for tag, _ in found}
    for tag, attrs in found:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").lower().startswith(("javascript:", "data:")), (
                tag, attrs)
    links = [attrs for tag, attrs in found if tag == "a"]
    assert links == [{"href": "https://example.org", "rel": "noopener noreferrer nofollow"}]


def test_statement_code_is_highlighted_and_math_becomes_mathml() -> None:
    html = str(render_markdown("Let $x^2$ be\n\n$$\\frac{a}{b}$$\n\n```python\nx = 1\n```\n"))
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert "<mfrac>" in html and 'display="block"' in html
    assert '<pre class="hl"><code><span class="hl-n">x</span>' in html


def test_hint_markdown_keeps_code_and_drops_html() -> None:
    assert str(render_inline("use `torch.zeros` <b onclick=x>now</b>")) == (
        "use <code>torch.zeros</code> &lt;b onclick=x&gt;now&lt;/b&gt;")


def _check(case: str, name: str, passed: bool, visible: bool, message: str = "",
           misconceptions: tuple[str, ...] = ()) -> CheckResult:
    return CheckResult(name=name, case=case, visible=visible, passed=passed,
                       score=1.0 if passed else 0.0, max_score=1.0, message=message,
                       misconceptions=list(misconceptions))


def _record(**fields: object) -> SubmissionRecord:
    base: dict[str, object] = {"id": "s1", "exercise": "ex", "learner": "ann",
                               "status": "graded", "queue": "cpu"}
    return SubmissionRecord.model_validate({**base, **fields})


def test_result_shows_hidden_cases_without_inputs_and_each_hint_once() -> None:
    hint = "expected float32, got float64\nHint: use `torch.zeros`"
    verdict = Verdict(
        exercise="ex", status="failed", score=2.0, max_score=4.0,
        checks=[_check("shown", "values", True, True),
                _check("shown", "dtype", False, True, hint, ("numpy-float64",)),
                _check("secret", "values", True, False),
                _check("secret", "dtype", False, False, hint, ("numpy-float64",))],
        cases=[CaseReport(name="secret", visible=False, status="returned",
                          inputs={"x": "leaked?"}),
               CaseReport(name="shown", visible=True, status="returned", inputs={"x": "3"})],
        stdout="y" * 20_000,
    )
    view = result_view(_record(), verdict)
    shown, secret = view.visible_cases[0], view.hidden_cases[0]
    assert shown.inputs == {"x": "3"} and secret.inputs == {}
    dtype = next(c for c in shown.checks if c.name == "dtype")
    assert dtype.message == "expected float32, got float64"
    assert [str(h) for h in dtype.hints] == ["use <code>torch.zeros</code>"]
    repeated = next(c for c in secret.checks if c.name == "dtype")
    # Pointed at by the case that showed the hint, never by the misconception's internal id.
    assert repeated.hints == [] and repeated.repeated == ["shown"]
    assert not shown.passed and shown.score == 1.0 and shown.max_score == 2.0
    assert view.stdout_truncated and len(view.stdout) == 10_000
    assert ("dtype", 0, 2) in view.check_totals and view.percent == 50


def test_hints_are_data_shown_apart_from_the_message() -> None:
    check = CheckResult(name="dtype", case="shown", visible=True, passed=False, score=0,
                        max_score=1, message="expected float32, got float64",
                        misconceptions=["numpy-float64"],
                        hints=[Hint(misconception="numpy-float64", text="use `torch.zeros`")])
    verdict = Verdict(exercise="ex", status="failed", score=0, max_score=1, checks=[check],
                      cases=[CaseReport(name="shown", visible=True, status="returned")])
    view = result_view(_record(), verdict).visible_cases[0].checks[0]
    assert view.message == "expected float32, got float64"
    assert [(m, str(h)) for m, h in view.labelled_hints] == [
        ("numpy-float64", "use <code>torch.zeros</code>")]
    assert "hints" in verdict.model_dump(mode="json")["checks"][0]


def test_a_result_stored_with_hints_in_its_message_reads_as_hints() -> None:
    stored = {"name": "dtype", "case": "a", "visible": True, "passed": False, "score": 0,
              "max_score": 1, "message": "got float64\nHint: use `zeros`\nHint: or `ones`",
              "misconceptions": ["numpy-float64"]}
    check = CheckResult.model_validate(stored)
    assert check.message == "got float64"
    assert check.hints == [Hint(misconception="numpy-float64", text="use `zeros`"),
                           Hint(misconception="", text="or `ones`")]


def test_messages_render_code_spans_and_escape_the_rest() -> None:
    check = _check("shown", "values", False, True, "expected `a*b_1` <b>, got x*y_2")
    verdict = Verdict(exercise="ex", status="failed", score=0, max_score=1, checks=[check])
    view = result_view(_record(), verdict).cases[0].checks[0]
    assert str(view.message_html) == (
        "expected <code>a*b_1</code> &lt;b&gt;, got x*y_2")


def test_a_submission_that_did_not_run_shows_its_problem_once() -> None:
    problem = CodeProblem(message="SyntaxError: expected ':'", line=3,
                          code="def f(x)", column=9)
    checks = [CheckResult(name=name, case=case, visible=case == "shown", passed=False,
                          score=0, max_score=1, message="", run=False)
              for case in ("shown", "secret") for name in ("values", "dtype")]
    verdict = Verdict(exercise="ex", status="failed", score=0, max_score=4, checks=checks,
                      cases=[CaseReport(name="shown", visible=True, status="not_run"),
                             CaseReport(name="secret", visible=False, status="not_run")],
                      error=problem.render(), problem=problem)
    view = result_view(_record(), verdict)
    assert view.problem == problem and view.error is None
    assert all(not c.ran for c in view.cases)


def test_failed_submission_shows_the_error_and_no_cases() -> None:
    view = result_view(_record(status="failed", error="no worker could grade it"), None)
    assert view.error == "no worker could grade it" and view.cases == []


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


YAML = "slug: demo\ngolden:\n  - file: golden/wrong_one.py\n    expect: wrong\n"


def test_zip_of_a_course_folder_gives_the_exercise_files_and_reference() -> None:
    uploaded = from_zip(_zip({
        "course/exercises/demo/exercise.yaml": YAML,
        "course/exercises/demo/golden/wrong_one.py": "w = 1\n",
        "course/exercises/demo/__pycache__/x.pyc": "",
        "course/reference/demo.py": "ref = 1\n",
    }))
    assert uploaded.slug == "demo"
    assert set(uploaded.files) == {"exercise.yaml", "golden/wrong_one.py"}
    assert uploaded.reference == "ref = 1\n"


def test_zip_without_reference_or_yaml_is_refused_with_a_reason() -> None:
    with pytest.raises(BundleError, match="no reference solution"):
        from_zip(_zip({"demo/exercise.yaml": YAML}))
    with pytest.raises(BundleError, match=r"no exercise\.yaml"):
        from_zip(_zip({"demo/statement.md": "hi"}))
    with pytest.raises(BundleError, match="not a zip"):
        from_zip(b"PK not really")


def test_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("demo/exercise.yaml", YAML)
        archive.writestr("demo/big.txt", "0" * (5 * 2**20))
    with pytest.raises(BundleError, match="unpacks to more than"):
        from_zip(buffer.getvalue(), reference="r = 1\n")


def test_loose_files_go_where_exercise_yaml_names_them() -> None:
    def upload(name: str, text: str) -> FileStorage:
        return FileStorage(io.BytesIO(text.encode()), filename=name)

    uploaded = from_files([upload("exercise.yaml", YAML), upload("starter.py", "s\n"),
                           upload("wrong_one.py", "w\n"), upload("other.py", "o\n"),
                           upload("demo.py", "ref\n")])
    assert uploaded.files == {"exercise.yaml": YAML, "starter.py": "s\n",
                              "golden/wrong_one.py": "w\n", "golden/other.py": "o\n"}
    assert uploaded.reference == "ref\n"


def test_diff_numbers_lines_and_marks_changes() -> None:
    lines = diff("a\nb\nc\n", "a\nB\nc\nd\n")
    kinds = [(line.kind, line.old, line.new, line.text) for line in lines]
    assert kinds[0][0] == "hunk"
    assert ("removed", 2, None, "b") in kinds and ("added", None, 2, "B") in kinds
    assert ("added", None, 4, "d") in kinds and ("context", 1, 1, "a") in kinds
    assert diff("same\n", "same\n") == []


def test_regrade_picks_stale_originals_once_and_skips_running_ones() -> None:
    old = _record(id="a", content_hash="v1", created_at=1.0)
    current = _record(id="b", content_hash="v2", created_at=2.0)
    failed = _record(id="c", status="failed", created_at=3.0)
    regraded = _record(id="d", content_hash="v1", created_at=4.0)
    regrade_of_d = _record(id="e", status="running", submitted_by="regrade:d", created_at=5.0)
    stale = out_of_date([old, current, failed, regraded, regrade_of_d], "v2")
    assert [r.id for r in stale] == ["a", "c"]
    done = _record(id="f", content_hash="v2", submitted_by="regrade:a", created_at=6.0)
    assert [r.id for r in out_of_date([old, done], "v2")] == []


def test_attempts_to_full_marks_count_own_attempts_not_regrades() -> None:
    records = [
        _record(id="1", learner="ann", passed=False, created_at=1),
        _record(id="2", learner="ann", passed=False, submitted_by="regrade:1", created_at=2),
        _record(id="3", learner="ann", passed=True, created_at=3),
        _record(id="4", learner="bob", passed=True, created_at=4),
        _record(id="5", learner="cy", passed=False, created_at=5),
    ]
    reaching = attempts_to_full_marks(records)
    assert reaching.counts == {1: 1, 2: 1} and reaching.not_yet == 1
    assert reaching.median == 1.5


def test_failing_checks_count_submissions_and_messages_without_hints() -> None:
    def verdict(*checks: CheckResult) -> Verdict:
        return Verdict(exercise="ex", status="failed", score=0, max_score=2, checks=list(checks))

    found = failing_checks([
        verdict(_check("a", "dtype", False, True, "got float64\nHint: h"),
                _check("b", "dtype", False, False, "got float64\nHint: h")),
        verdict(_check("a", "dtype", False, True, "got int64")),
        verdict(_check("a", "values", False, True, "wrong at [0]")),
    ])
    assert [(f.name, f.submissions) for f in found] == [("dtype", 2), ("values", 1)]
    assert found[0].top_messages() == [("got float64", 1), ("got int64", 1)]


def test_score_chart_is_an_svg_with_a_bar_per_bucket() -> None:
    svg = str(bar_chart(score_bars([1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3]), "Scores <x>"))
    assert svg.startswith('<svg class="chart"') and svg.count("<rect") == 11
    assert "Scores &lt;x&gt;" in svg and 'class="bar full"' in svg


@pytest.mark.parametrize(("target", "safe"), [
    ("/exercises/x", "/exercises/x"), ("//evil.example", None), ("https://evil.example", None),
    ("/\\evil.example", None), ("", None), (None, None), ("exercises", None),
])
def test_sign_in_only_returns_to_paths_on_this_site(target: str | None, safe: str | None) -> None:
    assert safe_next(target) == safe


def test_failing_checks_group_by_misconception_and_message_pattern() -> None:
    def verdict(*checks: CheckResult) -> Verdict:
        return Verdict(exercise="ex", status="failed", score=0, max_score=2, checks=list(checks))

    found = failing_checks([
        verdict(_check("a", "values", False, True, "expected 3.5 at [0, 1], got 4.25"),
                _check("b", "values", False, False, "expected 7 at [2, 0], got -1e-3")),
        verdict(_check("a", "values", False, True, "expected 1 at [1, 1], got 2")),
        verdict(_check("a", "shares_memory", False, True, "a copy\nHint: h", ("copies",)),
                _check("b", "shares_memory", False, False, "a copy, 12 bytes", ("copies",))),
        verdict(_check("a", "shares_memory", False, True, "a copy\nHint: h", ("copies",))),
    ])
    values = next(f for f in found if f.name == "values")
    # The same mistake with other values is one line, counted once per submission.
    assert values.submissions == 2 and values.unrecognised == 2
    assert values.top_messages() == [("expected … at […], got …", 2)]
    shares = next(f for f in found if f.name == "shares_memory")
    assert shares.top_misconceptions() == [("copies", 2)] and shares.top_messages() == []
    assert shares.unrecognised == 0
    assert mistake_of("values differ at index (0, 1): expected False, got True; 3 of 6 differ "
                      "(compared exactly)") == (
        "values differ at index (…): expected …, got …; … of … differ")


def _graded(id_: str, score: float, created: float, by: str = "", status: str = "graded",
            exercise: str = "ex") -> SubmissionRecord:
    return _record(id=id_, score=score, max_score=10, created_at=created, submitted_by=by or None,
                   status=status, exercise=exercise)


def test_a_regrade_replaces_its_original_once_finished_and_may_lower_the_best() -> None:
    records = [
        _graded("a", 10, 1), _graded("b", 4, 2, exercise="other"),
        _graded("r1", 3, 3, by="regrade:a"),  # the exercise changed: a is now worth 3
        _graded("r2", 0, 4, by="regrade:b", status="running"),  # not finished: b keeps 4
    ]
    current = current_gradings(records)
    assert [r.id for r in current] == ["r1", "b"]
    assert best_scores(records) == {"ex": 3, "other": 4}


def test_statistics_of_current_gradings_count_each_submission_once() -> None:
    def verdict(score: float, passed: bool) -> Verdict:
        return Verdict(exercise="ex", status="failed", score=score, max_score=10,
                       checks=[_check("a", "values", passed, True),
                               _check("b", "values", True, False)])

    stats = stats_of("ex", [verdict(10, True), verdict(5, False)])
    assert stats.graded == 2 and stats.score_buckets[10] == 1 and stats.score_buckets[5] == 1
    assert [(c.name, c.passed, c.total) for c in stats.checks] == [("values", 1, 2)]


def test_plural() -> None:
    assert (plural(1, "account"), plural(2, "account"), plural(0, "child", "children")) == (
        "1 account", "2 accounts", "0 children")


def test_a_case_message_repeated_by_later_cases_is_shown_once() -> None:
    checks = [CheckResult(name="values", case=case, visible=case == "a", passed=False, score=0,
                          max_score=1, message="", run=False) for case in ("a", "b", "c")]
    ended = "not run: an earlier problem ended the run (your code did not finish within 5 s)"
    verdict = Verdict(exercise="ex", status="failed", score=0, max_score=3, checks=checks,
                      cases=[CaseReport(name="a", visible=True, status="timeout",
                                        message="your code did not finish within 5 s"),
                             CaseReport(name="b", visible=False, status="not_run", message=ended),
                             CaseReport(name="c", visible=False, status="not_run", message=ended)])
    a, b, c = result_view(_record(), verdict).cases
    assert a.message and b.message.startswith("an earlier problem ended the run")
    assert (c.message, c.same_as) == ("", "b")
