"""What an instructor sees in the browser: uploading an exercise (validated, refused when it
fails), its statistics, regrading with a progress bar, the gradebook and its CSV, accounts,
invitations and API tokens."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import BrowserContext, Page, expect

from grader.tokens import TokenStore
from tests.browser.conftest import (
    GRADING_TIMEOUT_MS,
    PASSWORD,
    Service,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
SLUG = "tiny-share"
VALIDATION_TIMEOUT_MS = 300_000
HOSTILE_STATEMENT = """# Tiny share

Return a tensor that **shares memory** with `arr`, so that $y_i = x_i$ and

$$\\frac{\\partial y}{\\partial x} = 1$$

<script>window.__pwned = 1</script>
<img src="x" onerror="window.__pwned = 2">
[click me](javascript:window.__pwned=3) and <a href="javascript:window.__pwned=4">me</a>

```python
y = torch.from_numpy(arr)
```
"""
WRONG = "import torch\n\n\ndef share_from_numpy(arr):\n    return torch.tensor(arr)\n"
RIGHT = "import torch\n\n\ndef share_from_numpy(arr):\n    return torch.from_numpy(arr)\n"


def exercise_folder(tmp: Path, statement: str = HOSTILE_STATEMENT, broken: bool = False) -> Path:
    """A copy of the fixture course's tiny-share, with its own statement."""
    folder = tmp / "exercises" / SLUG
    shutil.copytree(FIXTURE / "exercises" / SLUG, folder, dirs_exist_ok=True)
    (folder / "statement.md").write_text(statement)
    if broken:  # a copy passed off as correct: validation must catch it
        yaml = (folder / "exercise.yaml").read_text()
        (folder / "exercise.yaml").write_text(yaml.replace(
            "expect: wrong\n    fails: [shares_memory]\n    misconceptions: [copies]",
            "expect: correct"))
    (tmp / "reference").mkdir(exist_ok=True)
    shutil.copy(FIXTURE / "reference" / f"{SLUG}.py", tmp / "reference" / f"{SLUG}.py")
    return folder


def zipped(course: Path, target: Path) -> Path:
    """The course folder (exercise and reference) as a zip."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(course.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(course.parent).as_posix())
    return target


def instructor_page(service: Service, new_context: Callable[..., BrowserContext]) -> Page:
    page = new_context().new_page()
    sign_in(page, service.account("tess", "instructor", "Tess Teacher"))
    return page


def api(service: Service, method: str, path: str, token: str, **kwargs: Any) -> Any:
    response = requests.request(method, f"{service.base_url}/api/v1{path}", timeout=60,
                                headers={"Authorization": f"Bearer {token}"}, **kwargs)
    return response


def submit_and_wait(service: Service, token: str, learner: str, code: str,
                    exercise: str = SLUG) -> dict[str, Any]:
    response = api(service, "POST", "/submissions", token,
                   json={"exercise": exercise, "code": code, "learner": learner})
    assert response.status_code == 202, response.text
    submission_id = response.json()["id"]
    for _ in range(60):
        body: dict[str, Any] = api(service, "GET", f"/submissions/{submission_id}?wait=5",
                                   token).json()
        if body["status"] in ("graded", "failed"):
            return body
    pytest.fail(f"submission {submission_id} was not graded")


def upload(page: Page, *, archive: Path | None = None, files: list[Path] | None = None) -> None:
    page.goto("/instructor/exercises/upload")
    if archive is not None:
        page.get_by_label("A zip of the exercise folder").set_input_files(str(archive))
    if files is not None:
        page.locator('input[name="files"]').set_input_files([str(f) for f in files])
    page.get_by_role("button", name="Validate and publish").click()
    expect(page.get_by_test_id("validation-report")).to_be_visible(timeout=VALIDATION_TIMEOUT_MS)


def test_instructor_uploads_an_exercise_refuses_a_broken_one_and_regrades_after_a_change(
        service: Service, new_context: Callable[..., BrowserContext], tmp_path: Path) -> None:
    page = instructor_page(service, new_context)

    # A zip of the exercise goes live after validation, with its report.
    course = tmp_path / "v1"
    exercise_folder(course)
    upload(page, archive=zipped(course, tmp_path / "tiny-share.zip"))
    report = page.get_by_test_id("validation-report")
    expect(report).to_contain_text("Validated and live")
    expect(report).to_contain_text("Added 'Tiny share (test fixture)'")
    screenshot(page, "upload-report")

    # An exercise whose golden submission does not get its expected verdict is refused.
    broken = exercise_folder(tmp_path / "broken", statement="# Broken\n", broken=True)
    upload(page, files=[broken / "exercise.yaml", broken / "statement.md",
                        broken / "starter.py", broken / "golden" / "as_tensor.py",
                        broken / "golden" / "copies.py",
                        tmp_path / "broken" / "reference" / f"{SLUG}.py"])
    report = page.get_by_test_id("validation-report")
    expect(report).to_contain_text("Refused")
    expect(report.locator(".problems")).to_contain_text("copies")
    screenshot(page, "upload-refused")

    # The statement is still the first one: no script ran, no javascript: link survived.
    page.goto(f"/exercises/{SLUG}")
    expect(page.locator(".statement")).to_contain_text("shares memory")
    assert page.evaluate("window.__pwned") is None
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert page.locator(".statement script, .statement img[onerror]").count() == 0
    assert page.locator(".statement math").count() == 2
    expect(page.locator(".statement pre.hl .hl-n").first).to_be_visible()

    # Learners submit against version 1: lea wrong then right, max wrong.
    lms, _ = TokenStore(service.store).create_token("lms", "browser tests")
    assert submit_and_wait(service, lms, "lea", WRONG)["passed"] is False
    assert submit_and_wait(service, lms, "lea", RIGHT)["passed"] is True
    assert submit_and_wait(service, lms, "max", WRONG)["passed"] is False

    # Version 2 (another statement) replaces it: every submission is now out of date.
    course = tmp_path / "v2"
    folder = exercise_folder(course, statement="# Tiny share, second edition\n\nShare it.\n")
    upload(page, files=[*sorted(folder.rglob("*.py")), folder / "exercise.yaml",
                        folder / "statement.md", course / "reference" / f"{SLUG}.py"])
    expect(page.get_by_test_id("validation-report")).to_contain_text("Replaced")

    page.goto(f"/instructor/exercises/{SLUG}")
    expect(page.locator("#regrade")).to_contain_text("3 submissions were graded against an older")
    rates = page.get_by_test_id("pass-rates")
    expect(rates.locator('tr[data-check="shares_memory"]')).to_contain_text("33%")
    failing = page.get_by_test_id("failing-checks")
    expect(failing).to_contain_text("shares_memory")
    expect(failing.locator(".messages > li").first).to_contain_text("2×")
    expect(page.get_by_test_id("attempts-summary")).to_contain_text(
        "1 learner reached full marks, after 2 attempts (median); 1 not yet.")
    expect(page.get_by_test_id("score-chart").locator("svg rect.full")).to_have_count(1)

    page.get_by_role("button", name="Regrade 3 submissions").click()
    progress = page.get_by_test_id("regrade-progress")
    expect(progress).to_be_visible()
    expect(page.locator("#regrade")).to_contain_text(
        "0 submissions were graded against an older", timeout=GRADING_TIMEOUT_MS)
    expect(page.get_by_test_id("regrade-progress")).to_contain_text("3 of 3 graded")
    screenshot(page, "exercise-stats")

    # The learner sees the regrade beside the attempt it regraded.
    learner = new_context().new_page()
    service.accounts.create("lea", PASSWORD, "learner", "Lea")
    sign_in(learner, "lea")
    learner.goto(f"/exercises/{SLUG}/history")
    expect(learner.locator("table.history")).to_contain_text("Regrade of attempt 2")


def test_gradebook_shows_best_scores_and_downloads_as_csv(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    # The shipped share-from-numpy (same function as tiny-share, 10 points): this test needs no
    # upload by another test before it.
    slug = "share-from-numpy"
    lms, _ = TokenStore(service.store).create_token("lms", "gradebook test")
    submit_and_wait(service, lms, "gus", WRONG, exercise=slug)
    page = instructor_page(service, new_context)
    page.goto("/instructor/gradebook")
    row = page.locator('tr[data-learner="gus"]')
    expect(row).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_test_id("gradebook-csv").click()
    download = download_info.value
    assert download.suggested_filename == "gradebook.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    gus = next(r for r in rows if r["learner"] == "gus")
    assert 0 < float(gus[slug]) < 10
    assert float(gus["total"]) == float(gus[slug])
    screenshot(page, "gradebook")


def test_instructor_creates_accounts_invitations_and_api_tokens(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    page = instructor_page(service, new_context)
    page.goto("/instructor/accounts")
    page.locator("#account-username").fill("olga")
    page.locator("#account-name").fill("Olga Learner")
    page.locator("#account-password").fill("olga's password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("accounts")).to_contain_text("olga")
    page.locator("#invite-username").fill("ivan")
    page.locator("#invite-name").fill("Ivan Invited")
    page.get_by_role("button", name="Create invitation link").click()
    link = page.get_by_test_id("invite-link").locator("input").input_value()
    assert re.search(r"/invite/[\w-]+$", link)
    expect(page.get_by_test_id("pending-invitations").locator('tr[data-username="ivan"]')
           ).to_contain_text("Ivan Invited")
    screenshot(page, "accounts")

    invited = new_context().new_page()
    invited.goto(link)
    expect(invited.locator("h1")).to_contain_text("Welcome, Ivan Invited")
    invited.get_by_label("Choose a password").fill("ivan's password")
    invited.get_by_label("Repeat it").fill("ivan's password")
    invited.get_by_role("button", name="Create my account").click()
    expect(invited.get_by_test_id("whoami")).to_have_text("Ivan Invited")
    invited.goto(link)  # the link works once
    expect(invited.locator("h1")).to_have_text("This link does not work")
    page.goto("/instructor/accounts")  # no longer pending
    expect(page.locator('[data-testid="pending-invitations"] tr[data-username="ivan"]')
           ).to_have_count(0)

    olga = new_context().new_page()
    sign_in(olga, "olga", "olga's password")
    expect(olga.get_by_test_id("whoami")).to_have_text("Olga Learner")

    page.goto("/instructor/tokens")
    page.get_by_label("Role").select_option("lms")
    page.get_by_label("Name").fill("Moodle")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token").locator("input").input_value()
    assert api(service, "GET", "/exercises", token).status_code == 200
    row = page.get_by_test_id("tokens").locator("tr", has_text="Moodle")
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("tokens")).not_to_contain_text("Moodle")
    assert api(service, "GET", "/exercises", token).status_code == 401


THREE_MISTAKES = {  # each replacement is one mistake, found on its own line
    "module: numpy-interop": "module: numpy-interopp",
    "  - name: input_unchanged": "  - name: input_unchnaged",
    "    weight: 3": "    weight: -3",
}


def test_an_upload_with_three_mistakes_shows_three_errors_at_their_lines(
        service: Service, new_context: Callable[..., BrowserContext], tmp_path: Path) -> None:
    folder = exercise_folder(tmp_path / "mistakes", statement="# Mistakes\n")
    text = (folder / "exercise.yaml").read_text()
    for right, wrong in THREE_MISTAKES.items():
        text = text.replace(right, wrong)
    (folder / "exercise.yaml").write_text(text)
    lines = text.splitlines()
    expected = {(lines.index(wrong) + 1) for wrong in THREE_MISTAKES.values()}

    page = instructor_page(service, new_context)
    upload(page, files=[folder / "exercise.yaml", folder / "statement.md", folder / "starter.py",
                        *sorted((folder / "golden").glob("*.py")),
                        tmp_path / "mistakes" / "reference" / f"{SLUG}.py"])
    report = page.get_by_test_id("validation-report")
    expect(report).to_contain_text("Refused")
    expect(report.get_by_test_id("upload-message")).to_contain_text("3 problems")
    errors = report.get_by_test_id("upload-error")
    expect(errors).to_have_count(3)
    shown = {int(errors.nth(i).get_attribute("data-line") or 0) for i in range(3)}
    assert shown == expected
    misspelled = report.locator('[data-field="checks.4.name"]')
    expect(misspelled).to_contain_text("did you mean 'input_unchanged'?")
    expect(misspelled.locator("pre")).to_contain_text("- name: input_unchnaged")
    expect(misspelled.locator(".caret")).to_have_text(re.compile(r"^ +\^$"))
    expect(report).not_to_contain_text("misconception")
    screenshot(page, "upload-three-mistakes")

    # The API says the same, as data.
    token, _ = TokenStore(service.store).create_token("instructor", "three mistakes")
    files = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*")
             if p.is_file()}
    reference = (tmp_path / "mistakes" / "reference" / f"{SLUG}.py").read_text()
    response = api(service, "PUT", f"/exercises/{SLUG}", token,
                   json={"files": files, "reference": reference})
    assert response.status_code == 422, response.text
    problems = response.json()["error"]["details"]["problems"]
    assert {p["line"] for p in problems} == expected
    assert {p["file"] for p in problems} == {"exercise.yaml"}
    assert all(p["code"] and p["column"] for p in problems)


def test_statistics_group_failures_by_check_and_mistake(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    lms, _ = TokenStore(service.store).create_token("lms", "statistics grouping")
    kinds = "{'float16': torch.float16, 'int16': torch.int16, 'bool': torch.bool}[kind]"
    for learner, body in (("sid", f"torch.ones(rows, cols, dtype={kinds})"),
                          ("sue", f"torch.full((rows, cols), 7, dtype={kinds})"),
                          ("ivy", "torch.zeros(rows, cols)")):
        code = f"import torch\n\n\ndef typed_zeros(rows, cols, kind):\n    return {body}\n"
        response = api(service, "POST", "/submissions", lms,
                       json={"exercise": "typed-zeros", "code": code, "learner": learner})
        assert response.status_code == 202, response.text
        submission_id = response.json()["id"]
        for _ in range(60):
            status = api(service, "GET", f"/submissions/{submission_id}?wait=5", lms).json()
            if status["status"] in ("graded", "failed"):
                break
        assert status["status"] == "graded", status
    page = instructor_page(service, new_context)
    page.goto("/instructor/exercises/typed-zeros")
    failing = page.get_by_test_id("failing-checks")
    values = failing.locator("li", has=page.locator("code", has_text=re.compile("^values$")))
    # sid's ones and sue's sevens, on cases of different shapes: one mistake, twice.
    expect(values.first).to_contain_text("failed in 2 submissions")
    expect(values.first.get_by_test_id("failing-other")).to_have_count(1)
    expect(values.first.get_by_test_id("failing-other")).to_contain_text("2×")
    examples = values.first.get_by_test_id("failing-message").all_inner_texts()
    assert examples and len(examples) == len(set(examples))
    dtype = failing.locator("li", has=page.locator("code", has_text=re.compile("^dtype$")))
    expect(dtype.first.get_by_test_id("failing-misconception").first).to_be_visible()
    expect(dtype.first.get_by_test_id("failing-other")).to_have_count(0)
    expect(page.locator(".page-header")).to_contain_text("3 submissions in all")
    # Chart labels are readable: at least 11 px on screen.
    label = page.get_by_test_id("score-chart").locator("text.label").first
    assert label.evaluate("e => e.getBoundingClientRect().height") >= 11
    screenshot(page, "statistics-grouped")


def test_gradebook_lists_every_learner_and_headers_are_not_clipped(
        service: Service, new_context: Callable[..., BrowserContext]) -> None:
    service.account("nina", name="Nina No-Submission")
    page = instructor_page(service, new_context)
    page.goto("/instructor/gradebook")
    row = page.locator('tr[data-learner="nina"]')
    expect(row).to_be_visible()
    expect(row.locator("td .score")).to_have_count(0)
    for header in page.locator("table.gradebook thead th").all():
        assert header.evaluate("e => e.scrollHeight <= e.clientHeight + 1"), header.inner_text()
        assert header.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), header.inner_text()
    page.goto("/instructor/")
    counts = page.get_by_test_id("dashboard-counts").inner_text()
    assert re.fullmatch(r"\d+ exercises? · \d+ accounts?", counts), counts
    assert not re.search(r"\b1 accounts\b|\b1 exercises\b", counts)
