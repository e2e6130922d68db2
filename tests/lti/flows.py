"""Steps of an LTI conversation, as a browser would take them (with ``requests``)."""

from __future__ import annotations

import re
import secrets

import requests

from tests.lti.conftest import Grader, form_of
from tests.lti.platform import Lms

CORRECT = "def add_one(x):\n    return x + 1\n"
WRONG = "def add_one(x):\n    return x + 2\n"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def launch(platform: Lms, grader: Grader, session: requests.Session, user: str,
           link: str | None = None, *, deep_link: bool = False) -> requests.Response:
    """From the LMS's link to the grader's answer to the launch POST (not followed)."""
    page = session.get(platform.start_url(user, link, deep_link=deep_link), timeout=30)
    assert page.status_code == 200, page.text
    action, fields = form_of(page.text)
    assert action == grader.base_url + "/lti/launch"
    return session.post(action, data=fields, allow_redirects=False, timeout=30)


def csrf(page: str) -> str:
    """The CSRF token of a grader page."""
    match = _CSRF.search(page)
    assert match, page[:2000]
    return match.group(1)


def deep_link(platform: Lms, grader: Grader, session: requests.Session,
              *slugs: str) -> list[dict[str, object]]:
    """An instructor adds exercises through the picker; returns the links the LMS made."""
    picker = launch(platform, grader, session, "teacher-1", deep_link=True)
    assert picker.status_code == 200, picker.text
    action, _ = form_of(picker.text, 'data-testid="lti-picker"')
    answer = session.post(grader.base_url + action, timeout=30,
                          data={"csrf_token": csrf(picker.text), "exercise": list(slugs)})
    assert answer.status_code == 200, answer.text
    back, fields = form_of(answer.text, "data-autopost")
    assert back == platform.url + "/deep-link-return"
    created = requests.post(back, data=fields, timeout=30)
    assert created.status_code == 200, (created.text, platform.refused)
    links: list[dict[str, object]] = created.json()["created"]
    return links


def submit(grader: Grader, session: requests.Session, slug: str, code: str) -> str:
    """Submit through the exercise page; returns the submission id."""
    page = session.get(f"{grader.base_url}/exercises/{slug}", timeout=30)
    assert page.status_code == 200, page.text[:500]
    response = session.post(f"{grader.base_url}/exercises/{slug}/submissions", timeout=30,
                            allow_redirects=False,
                            data={"csrf_token": csrf(page.text), "code": code,
                                  "attempt_key": secrets.token_urlsafe(16)})
    assert response.status_code == 303, response.text[:1000]
    return response.headers["Location"].rsplit("/", 1)[-1]
