"""Feedback a learner reads in the browser: a submission that does not run shows its error once,
a renamed parameter gets a hint naming the signature's, missing the learning objective is said,
and the exercise page fits a 390 px phone. Screenshots of the result page go to
``docs/screenshots/`` (desktop and phone) when ``GRADER_UPDATE_SCREENSHOTS=1``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import (
    GRADING_TIMEOUT_MS,
    ROOT,
    SCREENSHOTS,
    Service,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.slow

EXERCISE = "share-from-numpy"
PHONE = {"width": 390, "height": 844}
SYNTAX_ERROR = "import torch\n\n\ndef share_from_numpy(arr)\n    return torch.from_numpy(arr)\n"
RENAMED = "import torch\n\n\ndef share_from_numpy(a):\n    return torch.from_numpy(a)\n"
COPIES = "import torch\n\n\ndef share_from_numpy(arr):\n    return torch.tensor(arr)\n"


def submit(page: Page, code: str) -> None:
    """Put ``code`` in the editor, submit it and wait for the graded result."""
    page.goto(f"/exercises/{EXERCISE}")
    expect(page.locator(".cm-editor")).to_be_visible()
    page.evaluate("code => window.graderEditor.setValue(code)", code)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator('[data-testid="result"][data-status="graded"]')).to_be_visible(
        timeout=GRADING_TIMEOUT_MS)


def keep(name: str) -> None:
    """Copy a screenshot from artifacts/ into docs/screenshots/ when asked to."""
    if os.environ.get("GRADER_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(ROOT / "artifacts" / "screenshots" / f"{name}.png",
                    ROOT / "docs" / "screenshots" / f"{name}.png")


def viewport_shot(page: Page, name: str, element: Locator) -> None:
    """A screenshot of the viewport scrolled to the top of ``element``."""
    page.evaluate("e => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 8)",
                  element.element_handle())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: none)."""
    return int(page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"))


def test_a_syntax_error_is_shown_once_with_its_line_and_caret(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    sign_in(page, service.account("sam", name="Sam Syntax"))
    submit(page, SYNTAX_ERROR)
    result = page.get_by_test_id("result")
    problem = result.get_by_test_id("problem")
    expect(problem).to_contain_text("Line 4:")
    expect(problem).to_contain_text("SyntaxError: expected ':'")
    expect(problem.get_by_test_id("problem-code")).to_contain_text("def share_from_numpy(arr)")
    caret = problem.locator(".caret").inner_text()
    assert caret.endswith("^") and len(caret) == len("def share_from_numpy(arr)") + 1
    # Said once, and no banner that contradicts it.
    assert result.inner_text().count("expected ':'") == 1
    expect(result.get_by_test_id("verdict-line")).to_have_text(
        "Your code did not run, so no check ran.")
    expect(result).not_to_contain_text("Some checks failed")
    expect(result).not_to_contain_text("not run: not run")
    expect(result.get_by_test_id("cases-not-run").locator("li")).to_have_count(6)
    expect(result.locator(".chip.not-run")).to_have_count(4)
    result.scroll_into_view_if_needed()
    viewport_shot(page, "result-syntax-error", result)
    keep("result-syntax-error")


def test_a_renamed_parameter_gets_a_hint_naming_the_signatures_parameters(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    sign_in(page, service.account("rita", name="Rita Renamed"))
    submit(page, RENAMED)
    problem = page.get_by_test_id("result").get_by_test_id("problem")
    expect(problem).to_contain_text("unexpected keyword argument 'arr'")
    hint = problem.get_by_test_id("hint")
    expect(hint).to_contain_text("must have the parameter arr")
    expect(hint.locator("code").filter(has_text="arr")).not_to_have_count(0)
    expect(hint).not_to_contain_text("`")  # code spans are rendered, not shown as backticks
    expect(problem.get_by_test_id("problem-code")).to_contain_text("def share_from_numpy(a):")


def test_missing_the_objective_is_capped_and_said_without_internal_ids(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    sign_in(page, service.account("cora", name="Cora Copier"))
    submit(page, COPIES)
    result = page.get_by_test_id("result")
    assert float(result.get_attribute("data-score") or "nan") <= 5
    expect(result.get_by_test_id("objective")).to_contain_text("at most half the points")
    expect(result.get_by_test_id("objective").locator("code")).to_have_text("shares_memory")
    expect(result).not_to_contain_text("torch-tensor-copies")  # a misconception's id
    expect(result).not_to_contain_text("`")
    scores = result.locator(".case-points, td.num").all_inner_texts()
    assert all(len(part.split(".")[1]) <= 2 for text in scores
               for part in text.replace("/", " ").replace("+", " ").split() if "." in part)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "result-desktop", height=1400)
    keep("result-desktop")


def test_the_exercise_page_fits_a_390_px_phone(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(page, service.account("pia", name="Pia Phone"))
    page.goto("/exercises/image-to-chw")  # a statement with long code lines
    expect(page.locator(".cm-editor")).to_be_visible()
    assert horizontal_overflow(page) == 0
    card = page.locator("#submit-form").bounding_box()
    button = page.get_by_role("button", name="Submit for grading").bounding_box()
    assert card is not None and button is not None
    assert card["x"] <= button["x"] and button["x"] + button["width"] <= card["x"] + card["width"]
    assert card["y"] <= button["y"] and button["y"] + button["height"] <= card["y"] + card["height"]
    # A statement code block wider than the screen scrolls inside itself instead of being cut.
    blocks = page.locator(".statement pre")
    widths = [blocks.nth(i).evaluate("e => [e.scrollWidth, e.clientWidth, getComputedStyle(e)"
                                     ".overflowX, e.getBoundingClientRect().right]")
              for i in range(blocks.count())]
    assert widths
    for scroll_width, client_width, overflow_x, right in widths:
        assert right <= PHONE["width"]
        if scroll_width > client_width:
            assert overflow_x in ("auto", "scroll")
    # The editor's line numbers line up with its lines, once it is on screen.
    page.locator(".cm-editor").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    offsets = page.evaluate("""() => {
        const numbers = [...document.querySelectorAll('.cm-lineNumbers .cm-gutterElement')]
            .filter(e => /^\\d+$/.test(e.textContent) && e.getBoundingClientRect().height > 0);
        const lines = [...document.querySelectorAll('.cm-line')];
        return numbers.slice(0, lines.length).map((n, i) =>
            Math.abs(n.getBoundingClientRect().top - lines[i].getBoundingClientRect().top));
    }""")
    assert offsets and max(offsets) <= 2, offsets

    page.goto(f"/exercises/{EXERCISE}")
    page.evaluate("code => window.graderEditor.setValue(code)", COPIES)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator('[data-testid="result"][data-status="graded"]')).to_be_visible(
        timeout=GRADING_TIMEOUT_MS)
    assert horizontal_overflow(page) == 0
    viewport_shot(page, "result-phone", page.get_by_test_id("result"))
    keep("result-phone")


def test_uploading_a_file_shows_its_code_and_the_editor_can_be_left_with_the_keyboard(
        service: Service, new_context: Callable[..., BrowserContext], tmp_path: Path) -> None:
    page = new_context().new_page()
    sign_in(page, service.account("uma", name="Uma Upload"))
    page.goto(f"/exercises/{EXERCISE}")
    expect(page.locator(".cm-editor")).to_be_visible()
    expect(page.get_by_test_id("objective")).to_contain_text(
        "The point of this exercise is checked by shares_memory")
    solution = tmp_path / "mine.py"
    solution.write_text(COPIES)
    page.locator("input#file").set_input_files(str(solution))
    expect(page.locator(".cm-content")).to_contain_text("torch.tensor(arr)")
    assert page.evaluate("window.graderEditor.getValue()") == COPIES
    notebook = tmp_path / "mine.ipynb"
    notebook.write_text('{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], '
                        '"execution_count": null, "source": ["x = 1\\n"]}], "metadata": {}, '
                        '"nbformat": 4, "nbformat_minor": 5}')
    page.locator("input#file").set_input_files(str(notebook))
    expect(page.locator(".cm-content")).to_contain_text("x = 1")

    expect(page.locator("#editor-keys")).to_contain_text("Esc then Tab leaves the editor")
    page.locator(".cm-content").click()
    page.keyboard.press("Tab")  # indents: focus stays
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate("document.activeElement.classList.contains('cm-content')")


def test_an_exception_on_every_case_is_shown_once_and_pointed_at(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    sign_in(page, service.account("eve", name="Eve Exception"))
    submit(page, "def share_from_numpy(arr):\n    return 1 / 0\n")
    result = page.get_by_test_id("result")
    assert result.inner_text().count("division by zero") == 1
    second = result.locator('details.case[data-case="int64-vector"]')
    expect(second).to_contain_text("The same as case small-float32")
    expect(result.get_by_test_id("not-checked").first).to_contain_text(
        "Not checked, since the case did not return")
    expect(result.locator("table.checks")).to_have_count(0)
    # Hidden cases tell the exception's type only, once, and point at the first of them.
    first_hidden = result.locator(".hidden-cases li").first
    expect(first_hidden).to_contain_text("ZeroDivisionError")
    expect(result.locator(".hidden-cases")).not_to_contain_text("division by zero")
    expect(result.locator('.hidden-cases li[data-case="large"]')).to_contain_text(
        "the same as case")
    assert result.locator(".hidden-cases").inner_text().count("ZeroDivisionError") == 1
