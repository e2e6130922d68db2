"""Points from check results: weights, the learning objective's cap and extra credit."""

from __future__ import annotations

from common.protocol import CheckResult
from common.scoring import EXTRA_CREDIT_WITHHELD, objective_notice, score_checks
from common.spec import Exercise

EXERCISE = Exercise.model_validate({
    "slug": "swap", "title": "Swap", "module": "images", "function": "swap",
    "signature": "swap(img)", "points": 10,
    "cases": [{"name": "a", "visible": True}, {"name": "b"}],
    "checks": [
        {"name": "values", "weight": 4},
        {"name": "input_unchanged", "weight": 3},
        {"name": "dtype", "weight": 3},
        {"name": "shares_memory", "label": "no-copy-view", "weight": 1, "extra_credit": True},
    ],
    "objective": ["values"],
})


def results(failing: set[tuple[str, str]]) -> list[tuple[CheckResult, float]]:
    """Every check on both cases, failing the (check, case) pairs given."""
    return [
        (CheckResult(name=spec.key, case=case, visible=case == "a",
                     passed=(spec.key, case) not in failing, score=0, max_score=0, message="",
                     extra_credit=spec.extra_credit), spec.weight)
        for case in ("a", "b") for spec in EXERCISE.checks
    ]


def test_full_marks_earn_the_extra_credit_on_top() -> None:
    items = results(set())
    score = score_checks(EXERCISE, items)
    assert score.full_marks and score.extra_credit == 1 and score.score == 11
    bonus = [r for r, _ in items if r.extra_credit]
    # Shown as what it earns, never as "0.5 / 0".
    assert all(r.score == r.max_score == 0.5 for r in bonus)


def test_no_extra_credit_without_full_marks() -> None:
    # The in-place swap: right values, a view of the input, but the caller's image changed.
    items = results({("input_unchanged", "a"), ("input_unchanged", "b")})
    score = score_checks(EXERCISE, items)
    assert not score.full_marks and score.extra_credit == 0 and score.score == 7
    bonus = [r for r, _ in items if r.extra_credit]
    assert all(r.passed and r.score == 0 and r.message == EXTRA_CREDIT_WITHHELD for r in bonus)


def test_failing_the_objective_on_one_case_caps_at_half() -> None:
    items = results({("values", "b")})
    score = score_checks(EXERCISE, items)
    # Without the cap: 8 of 10 points.
    assert score.objective_missed == ["values"] and score.score == 5
    assert [r.objective for r, _ in items][:2] == [True, False]


def test_a_score_below_the_cap_is_kept_and_rounded_to_two_decimals() -> None:
    exercise = EXERCISE.model_copy(update={"checks": EXERCISE.checks[:3], "points": 7})
    items = [(r, w) for r, w in results({("values", "a"), ("values", "b"), ("dtype", "a")})
             if not r.extra_credit]
    score = score_checks(exercise, items)
    assert score.score == 3.15  # 9 of 20 weights of 7 points, under the cap of 3.5
    assert all(len(f"{r.max_score}".split(".")[1]) <= 2 for r, _ in items)


def test_objective_notice_names_the_checks() -> None:
    text = objective_notice(10, ["shares_memory"])
    assert "`shares_memory`" in text and "(5 of 10)" in text
