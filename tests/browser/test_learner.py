"""What a learner sees in the browser: signing in, the exercise list, the editor, results that
appear live (and, without JavaScript, after a redirect and self-refreshes), history and diffs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from common.spec import MODULES
from tests.browser.conftest import GRADING_TIMEOUT_MS, Service, screenshot, sign_in

pytestmark = pytest.mark.slow

EXERCISE = "zeros-matrix"
WRONG = (
    "import numpy as np\nimport torch\n\n\n"
    "def zeros_matrix(rows, cols):\n"
    "    print('building', rows, 'by', cols)\n"
    "    return torch.from_numpy(np.zeros((rows, cols)))\n"
)
RIGHT = (
    "import torch\n\n\n"
    "def zeros_matrix(rows: int, cols: int) -> torch.Tensor:\n"
    "    return torch.zeros(rows, cols)\n"
)


def graded_result(page: Page) -> None:
    """Wait until the result panel shows a finished verdict."""
    expect(page.locator('[data-testid="result"][data-status="graded"]')).to_be_visible(
        timeout=GRADING_TIMEOUT_MS)


def test_signing_in_shows_exercises_grouped_by_module_in_course_order(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin\?next=/$"))
    page.get_by_label("Username").fill(service.account("ann", name="Ann Learner"))
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Unknown username or wrong password.")).to_be_visible()
    sign_in(page, "ann")
    expect(page.get_by_test_id("whoami")).to_have_text("Ann Learner")
    titles = page.locator(".module-title").all_inner_texts()
    shown = [re.sub(r"^\d+\s*", "", t).strip() for t in titles]
    course_order = [m.title for m in MODULES]
    assert shown == [t for t in course_order if t in shown]
    assert "Tensor basics" in shown
    expect(page.locator(f'[data-slug="{EXERCISE}"]')).to_contain_text("A matrix of zeros")
    screenshot(page, "exercises")


def test_wrong_then_right_submission_results_appear_live_without_reload(
        service: Service, new_context: Callable[..., BrowserContext], tmp_path: Path) -> None:
    page = new_context().new_page()
    sign_in(page, service.account("ann", name="Ann Learner"))
    page.goto(f"/exercises/{EXERCISE}")
    expect(page.locator(".cm-editor")).to_be_visible()  # the editor replaced the textarea
    expect(page.locator("textarea#code")).to_be_hidden()
    expect(page.locator(".cm-content")).to_contain_text("def zeros_matrix")
    expect(page.locator(".statement")).to_contain_text("zeros_matrix(rows: int, cols: int)")
    page.evaluate("window.__sameDocument = true")

    # Typing: the editor indents with Tab and highlights Python.
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type("def f():")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("window.graderEditor.getValue()").startswith("def f():\n    ")
    expect(page.locator(".cm-content .tok-keyword").first).to_have_text("def")

    editor.fill(WRONG)
    assert page.evaluate("window.graderEditor.getValue()") == WRONG
    page.keyboard.press("Control+Enter")  # submits, and leaves the code as it was
    graded_result(page)
    assert page.evaluate("window.graderEditor.getValue()") == WRONG
    assert page.evaluate("window.__sameDocument") is True  # no reload, no navigation
    seen = page.locator("[data-live-status]").get_attribute("data-seen") or ""
    assert seen.split()[-1] == "graded" and seen.split()[0] in ("queued", "running"), seen

    result = page.get_by_test_id("result")
    score = float(result.get_attribute("data-score") or "nan")
    assert 0 < score < 10
    first_case = result.locator('details.case[data-case="three-by-four"]')
    expect(first_case.locator("dl.args")).to_contain_text("rows")
    dtype = first_case.locator('tr[data-check="dtype"]')
    expect(dtype).to_contain_text("failed")
    expect(dtype).to_contain_text("expected dtype float32, got float64")
    expect(dtype.get_by_test_id("hint")).to_contain_text("NumPy's default dtype is float64")
    hidden = result.locator(".hidden-cases > li")
    expect(hidden.first).to_be_visible()
    assert hidden.count() >= 1
    expect(hidden.first.locator("dl.args")).to_have_count(0)  # hidden inputs stay hidden
    expect(result.locator("details.output")).to_contain_text("Captured output")
    screenshot(page, "exercise-result")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "exercise-result-top", height=1290)

    # The right solution, uploaded as a file instead of typed.
    solution = tmp_path / "solution.py"
    solution.write_text(RIGHT)
    page.locator("input#file").set_input_files(str(solution))
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator('[data-testid="result"].full-marks')).to_be_visible(
        timeout=GRADING_TIMEOUT_MS)
    expect(page.get_by_test_id("score")).to_contain_text("10")
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "exercise-full-marks")

    # History: both attempts, newest first, and what changed between them.
    page.goto(f"/exercises/{EXERCISE}/history")
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Attempt 2")
    page.get_by_test_id("diff-link").first.click()
    diff = page.get_by_test_id("diff")
    expect(diff.locator("tr.diff-added")).to_contain_text(["return torch.zeros(rows, cols)"])
    expect(diff.locator("tr.diff-removed").first).to_be_visible()
    screenshot(page, "diff")

    page.goto("/")
    expect(page.get_by_test_id(f"best-{EXERCISE}")).to_contain_text("10")


def test_without_javascript_submitting_redirects_to_a_result_page_that_refreshes_until_graded(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, service.account("noah", name="Noah NoScript"))
    page.goto(f"/exercises/{EXERCISE}")
    code = page.locator("textarea#code")
    expect(code).to_be_visible()  # a plain textarea: no editor without JavaScript
    code.fill(RIGHT)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/[0-9a-f]{32}$"))
    graded_result(page)
    expect(page.get_by_test_id("score")).to_contain_text("10")
    expect(page.locator("h1 .badge")).to_have_text("graded")
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # it stops refreshing
    screenshot(page, "no-javascript-result")


def test_a_learner_cannot_open_another_learners_submission(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    owner = new_context(java_script_enabled=False).new_page()
    sign_in(owner, service.account("owen"))
    owner.goto(f"/exercises/{EXERCISE}")
    owner.locator("textarea#code").fill(RIGHT)
    owner.get_by_role("button", name="Submit for grading").click()
    expect(owner).to_have_url(re.compile(r"/submissions/[0-9a-f]{32}$"))
    submission = owner.url.rsplit("/", 1)[1]
    page = new_context().new_page()
    sign_in(page, service.account("mallory"))
    response = page.goto(f"/submissions/{submission}")
    assert response is not None and response.status == 404
    response = page.goto("/instructor/")
    assert response is not None and response.status == 403
