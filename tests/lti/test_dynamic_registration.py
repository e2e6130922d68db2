"""LTI Dynamic Registration: an instructor makes a one-time link on the setup page, the LMS
opens it with its OpenID configuration, and the grader and the LMS register each other; the new
registration then works for deep linking."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from common.lti.store import LtiStore
from tests.lti.conftest import Grader, browser_session
from tests.lti.flows import csrf, deep_link
from tests.lti.platform import INSTRUCTOR, LEARNER, Lms


@pytest.fixture
def new_lms(grader: Grader) -> Iterator[Lms]:
    lms = Lms(grader.base_url, client_id="not-registered-yet").start()
    lms.add_user("teacher-1", "Tess Teacher", INSTRUCTOR)
    lms.add_user("learner-1", "Lea Learner", LEARNER)
    yield lms
    lms.stop()


def _link(grader: Grader, platform: Lms) -> str:
    teacher = browser_session()
    deep_link(platform, grader, teacher, "add-one")  # an instructor of the grader
    page = teacher.get(grader.base_url + "/lti/setup", timeout=30).text
    made = teacher.post(grader.base_url + "/lti/setup/dynamic", timeout=30,
                        data={"csrf_token": csrf(page)}).text
    match = re.search(r'value="([^"]+/lti/register/[^"]+)" aria-label="Registration link"', made)
    assert match, made[-3000:]
    return match.group(1)


def test_an_lms_registers_itself_with_a_one_time_link(grader: Grader, platform: Lms,
                                                      new_lms: Lms) -> None:
    link = _link(grader, platform)
    config = new_lms.url + "/.well-known/openid-configuration"
    wrong = requests.get(link, timeout=30, params={"openid_configuration": config,
                                                   "registration_token": "wrong"})
    assert wrong.status_code == 502 and "registration" in wrong.text.lower()
    done = requests.get(link, timeout=30, params={
        "openid_configuration": config, "registration_token": new_lms.registration_token})
    assert done.status_code == 200, done.text[-2000:]
    assert 'data-testid="lti-registered"' in done.text and "lti-close.js" in done.text
    assert "frame-ancestors *" in done.headers["Content-Security-Policy"]
    registration = LtiStore(grader.store).registration(new_lms.issuer, new_lms.client_id)
    assert registration is not None
    assert registration.deployment_ids == ["dyn-deployment"]
    assert registration.token_url == new_lms.url + "/token"
    again = requests.get(link, timeout=30, params={"openid_configuration": config})
    assert again.status_code == 404  # one time only
    # The registration works: the new LMS's instructor adds an exercise.
    assert deep_link(new_lms, grader, browser_session(), "add-one")


def test_a_made_up_registration_link_is_refused(grader: Grader, new_lms: Lms) -> None:
    response = requests.get(grader.base_url + "/lti/register/made-up", timeout=30, params={
        "openid_configuration": new_lms.url + "/.well-known/openid-configuration",
        "registration_token": new_lms.registration_token})
    assert response.status_code == 404
    assert new_lms.client_id == "not-registered-yet"  # the LMS was never called
