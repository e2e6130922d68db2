"""A learner's mistakes end as graded failures with clear messages, never as grader crashes."""

from __future__ import annotations

import time

import pytest

from common.protocol import Verdict
from worker.pipeline import Pipeline
from worker.report import render_text

GOOD = "import torch\n\ndef share_from_numpy(arr):\n    return torch.from_numpy(arr)\n"


def grade(pipeline: Pipeline, source: str) -> Verdict:
    return pipeline.grade("tiny-share", source)


def statuses(verdict: Verdict) -> dict[str, str]:
    return {case.name: case.status for case in verdict.cases}


def test_reference_like_answer_gets_full_marks(tiny_pipeline: Pipeline) -> None:
    verdict = grade(tiny_pipeline, GOOD)
    assert verdict.status == "passed" and verdict.score == verdict.max_score == 10
    assert verdict.error is None


def test_syntax_error_names_the_line_once(tiny_pipeline: Pipeline) -> None:
    verdict = grade(tiny_pipeline, "import torch\n\ndef share_from_numpy(arr)\n    return arr\n")
    assert verdict.status == "failed" and verdict.score == 0
    assert verdict.problem is not None
    assert (verdict.problem.line, verdict.problem.code) == (3, "def share_from_numpy(arr)")
    assert verdict.problem.column == len("def share_from_numpy(arr)") + 1
    assert verdict.error == ("line 3: SyntaxError: expected ':'\n"
                             "    def share_from_numpy(arr)\n"
                             "    " + " " * len("def share_from_numpy(arr)") + "^")
    assert set(statuses(verdict).values()) == {"not_run"}
    # Said once: no case and no check repeats it.
    assert all(c.message == "" for c in verdict.cases)
    assert all(not c.run and c.message == "" for c in verdict.checks)
    text = render_text(verdict)
    assert text.count("expected ':'") == 1 and "No check ran on any of the 2 cases" in text
    assert "not run: not run" not in text and "Case " not in text


def test_missing_function_is_named_once(tiny_pipeline: Pipeline) -> None:
    verdict = grade(tiny_pipeline, "def share_from_nump(arr):\n    return arr\n")
    assert verdict.score == 0
    assert verdict.error == "your code does not define `share_from_numpy`"
    assert all(c.message == "" and not c.run for c in verdict.checks)
    assert render_text(verdict).count("does not define") == 1


def test_renamed_parameter_names_the_signatures_parameters(tiny_pipeline: Pipeline) -> None:
    source = "import torch\n\ndef share_from_numpy(a):\n    return torch.from_numpy(a)\n"
    verdict = grade(tiny_pipeline, source)
    assert verdict.score == 0
    problem = verdict.problem
    assert problem is not None and "unexpected keyword argument 'arr'" in problem.message
    assert "`share_from_numpy(arr=...)`" in problem.hint and "the parameter `arr`" in problem.hint
    assert (problem.line, problem.code, problem.column) == (3, "def share_from_numpy(a):", 22)
    assert render_text(verdict).count("unexpected keyword argument") == 1


def test_an_error_inside_the_function_is_not_a_signature_problem(tiny_pipeline: Pipeline) -> (
    None
):
    for source in ("def share_from_numpy(arr):\n    return sorted(arr, kee=len)\n",
                   # the same TypeError text, but from a call inside the learner's code
                   "def share_from_numpy(arr, depth=0):\n"
                   "    return arr if depth else share_from_numpy(ar=arr, depth=1)\n"):
        verdict = grade(tiny_pipeline, source)
        assert verdict.problem is None, verdict.problem
        assert set(statuses(verdict).values()) == {"raised"}


def test_missing_the_objective_caps_the_score_at_half(tiny_pipeline: Pipeline) -> None:
    source = "import torch\n\ndef share_from_numpy(arr):\n    return torch.tensor(arr)\n"
    verdict = grade(tiny_pipeline, source)
    # returns, values, dtype and input_unchanged pass: 5 of 8 weights would be 6.25 points.
    assert verdict.objective_missed == ["shares_memory"]
    assert verdict.score == 5
    assert "at most half the points (5 of 10)" in render_text(verdict)


def test_exception_shows_the_learners_traceback_only(tiny_pipeline: Pipeline) -> None:
    source = (
        "def share_from_numpy(arr):\n    return helper(arr)\n\n"
        "def helper(a):\n    return 1 / 0\n"
    )
    verdict = grade(tiny_pipeline, source)
    assert statuses(verdict) == {"shown": "raised", "secret": "raised"}
    shown = verdict.cases[0]
    assert "ZeroDivisionError: division by zero" in shown.message
    assert 'line 5, in helper' in shown.message
    assert "worker" not in shown.message and "invocation" not in shown.message
    assert all(not c.passed for c in verdict.checks)


def test_exception_at_import_time_is_reported_with_its_line(tiny_pipeline: Pipeline) -> None:
    verdict = grade(tiny_pipeline, "import torch\nraise ValueError('boom')\n")
    assert verdict.score == 0
    assert verdict.error is not None and "ValueError: boom" in verdict.error
    assert verdict.problem is not None
    assert (verdict.problem.line, verdict.problem.code) == (2, "raise ValueError('boom')")


def test_wrong_return_type_fails_with_expected_and_got(tiny_pipeline: Pipeline) -> None:
    verdict = grade(tiny_pipeline, "def share_from_numpy(arr):\n    return arr.tolist()\n")
    returns = next(c for c in verdict.checks if c.name == "returns")
    assert not returns.passed
    assert returns.message == "expected a torch.Tensor, got a list of 2 items"


def test_infinite_loop_times_out_within_the_limit(tiny_pipeline: Pipeline) -> None:
    start = time.monotonic()
    verdict = grade(tiny_pipeline, "def share_from_numpy(arr):\n    while True:\n        pass\n")
    elapsed = time.monotonic() - start
    assert statuses(verdict) == {"shown": "timeout", "secret": "timeout"}
    assert "did not finish within 2 s" in verdict.cases[0].message
    assert verdict.score == 0
    # Two runs of at most 2 s each, plus start-up: nowhere near a hang.
    assert elapsed < 30


def test_infinite_loop_at_import_time_times_out(tiny_pipeline: Pipeline) -> None:
    verdict = grade(tiny_pipeline, "while True:\n    pass\n")
    assert verdict.score == 0
    assert verdict.error is not None and "did not finish" in verdict.error


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "raise SystemExit(0)",
                                       "raise KeyboardInterrupt", "raise BaseException('x')"])
def test_exiting_or_interrupting_is_a_failure(tiny_pipeline: Pipeline, exit_call: str) -> None:
    source = f"import sys\n\ndef share_from_numpy(arr):\n    {exit_call}\n"
    verdict = grade(tiny_pipeline, source)
    assert verdict.score == 0
    assert set(statuses(verdict).values()) == {"raised"}


def test_hard_exit_before_returning_is_a_crash(tiny_pipeline: Pipeline) -> None:
    verdict = grade(tiny_pipeline, "import os\n\ndef share_from_numpy(arr):\n    os._exit(0)\n")
    assert verdict.score == 0
    assert set(statuses(verdict).values()) == {"crashed"}


def test_hidden_case_output_is_not_shown(tiny_pipeline: Pipeline) -> None:
    source = "import torch\n\ndef share_from_numpy(arr):\n    print('INPUT', arr.shape)\n" \
             "    return torch.from_numpy(arr)\n"
    verdict = grade(tiny_pipeline, source)
    assert verdict.status == "passed"
    assert "INPUT (2, 3)" in verdict.stdout  # the visible case's input
    assert "(3, 2)" not in verdict.stdout  # the hidden case's input never reaches the learner
    assert verdict.cases[1].inputs == {}
