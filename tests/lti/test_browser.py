"""The launch as a learner makes it: Debian's Chromium (Playwright) opens the LMS's course page,
served by the test platform on another site than the grader's, and the grader runs inside its
iframe: OIDC login, the platform's auto-posted launch, the exercise page, a submission graded in
the sandbox, and the score in the LMS's gradebook. An instructor adds an exercise with the
picker in the browser too. Screenshots of the pages go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.lti.conftest import Grader, make_platform, wait_for
from tests.lti.flows import CORRECT
from tests.lti.platform import Lms, ResourceLink

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRADER_TEST_CHROMIUM", "/usr/bin/chromium")
# Written where the other browser tests write theirs (ignored by git); docs/screenshots/ holds
# the copies docs/lti.md shows.
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# The LMS lives on another site than the grader (127.0.0.1), as in a real deployment: the
# browser resolves this name to 127.0.0.1 itself, so every byte still goes to 127.0.0.1.
LMS_HOST = "lms.test"
GRADING_MS = 180_000


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: scripts/bootstrap installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*args, "--disable-dev-shm-usage",
              f"--host-resolver-rules=MAP {LMS_HOST} 127.0.0.1"])
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def lms(grader: Grader) -> Iterator[Lms]:
    platform = make_platform(grader, browser_host=LMS_HOST)
    yield platform
    platform.stop()


def _page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(30_000)
    return context.new_page()


def test_a_learner_launches_and_submits_inside_the_lms_iframe(grader: Grader, lms: Lms,
                                                              browser: Browser) -> None:
    lineitem = lms.url + "/lineitems/900"
    lms.lineitems[lineitem] = {"id": lineitem, "scoreMaximum": 4, "label": "Add one"}
    lms.links["rl-900"] = ResourceLink("rl-900", "Add one", lms.launch_url,
                                       {"exercise": "add-one"}, lineitem)
    page = _page(browser)
    page.goto(f"{lms.browser_url}/course?user=learner-1&link=rl-900")
    expect(page.get_by_role("heading", name=lms.context_title)).to_be_visible()
    tool = page.frame_locator("#tool")
    expect(tool.get_by_test_id("whoami")).to_have_text("Lea Learner")
    expect(tool.locator(".cm-editor")).to_be_visible()
    frame = page.frame(url=lambda url: url.startswith(grader.base_url + "/exercises/"))
    assert frame is not None, [f.url for f in page.frames]
    cookies = {c["name"]: c for c in page.context.cookies(grader.base_url)}
    session = cookies["session"]
    assert session["sameSite"] == "None" and session["secure"], session
    tool.locator(".cm-content").fill(CORRECT)
    tool.get_by_role("button", name="Submit for grading").click()
    expect(tool.locator('[data-testid="result"].full-marks')).to_be_visible(timeout=GRADING_MS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lti-learner-in-lms.png"))
    wait_for(lambda: (s := lms.latest_score(lineitem, "learner-1")) and s.given == 4,
             120, "the score in the LMS")


def test_an_instructor_picks_an_exercise_and_reads_the_setup_page(grader: Grader, lms: Lms,
                                                                  browser: Browser) -> None:
    page = _page(browser)
    page.goto(lms.start_url("teacher-1", deep_link=True))
    picker = page.get_by_test_id("lti-picker")
    expect(picker).to_contain_text("Add one (service test fixture)")
    page.screenshot(path=str(SCREENSHOTS / "lti-picker.png"), full_page=True)
    page.get_by_label("Add one (service test fixture)").check()
    page.get_by_role("button", name="Add to the course").click()
    expect(page.locator("body")).to_contain_text('"created"')  # the LMS's answer (JSON)
    assert any(link.custom == {"exercise": "add-one"} for link in lms.links.values()
               if link.id != "rl-900")
    page.goto(grader.base_url + "/lti/setup")
    expect(page.get_by_label("Public keyset (JWKS) URL")).to_have_value(
        grader.base_url + "/lti/jwks.json")
    expect(page.get_by_test_id("lti-registrations")).to_contain_text(lms.issuer)
    page.screenshot(path=str(SCREENSHOTS / "lti-setup.png"), full_page=True)
