"""The whole conversation with a real, independent LTI 1.3 platform over real HTTP: an
instructor adds an exercise by deep linking, a learner launches it, submits, the sandbox grades,
and the score arrives in the platform's gradebook; the course's policy and a regrade change it;
a platform that is down gets the score once it is back."""

from __future__ import annotations

from typing import Any

import requests

from common.lti.store import LtiStore
from common.records import SubmissionRecord
from common.spec import ExerciseLibrary
from grader.lti.identity import username_for
from tests.lti.conftest import Grader, browser_session, wait_for
from tests.lti.flows import CORRECT, WRONG, csrf, deep_link, launch, submit
from tests.lti.platform import Lms, ResourceLink, Score

GRADING_S = 120


def _graded(grader: Grader, submission_id: str) -> SubmissionRecord:
    def done() -> SubmissionRecord | None:
        record = grader.store.get_submission(submission_id)
        return record if record is not None and record.finished else None

    record: SubmissionRecord = wait_for(done, GRADING_S, f"submission {submission_id}")
    assert record.status == "graded", record
    return record


def _score_becomes(platform: Lms, lineitem: str, user: str, given: float) -> Score:
    def arrived() -> Score | None:
        score = platform.latest_score(lineitem, user)
        return score if score is not None and score.given == given else None

    result: Score = wait_for(arrived, GRADING_S, f"the score {given} for {user} in the LMS")
    return result


def _post_form(session: requests.Session, grader: Grader, path: str,
               **data: Any) -> requests.Response:
    page = session.get(grader.base_url + "/lti/setup", timeout=30)
    assert page.status_code == 200, page.text[:500]
    return session.post(grader.base_url + path, data={"csrf_token": csrf(page.text), **data},
                        allow_redirects=False, timeout=30)


def test_deep_link_launch_grade_and_passback_with_policy_regrade_and_outage(
        grader: Grader, platform: Lms) -> None:
    refused_before = len(platform.refused)
    tokens_before = platform.token_requests
    teacher = browser_session()
    links = deep_link(platform, grader, teacher, "add-one")
    assert len(links) == 1
    link = links[0]
    line_item: dict[str, Any] = link["lineItem"]  # type: ignore[assignment]
    assert line_item["scoreMaximum"] == 4 and line_item["label"].startswith("Add one")
    assert link["text"], "the content item carries the exercise's description"
    lineitem_url = str(line_item["id"])

    # A learner's launch signs them in and opens the exercise, inside a frame-friendly session.
    learner = browser_session()
    opened = launch(platform, grader, learner, "learner-1", str(link["link"]))
    assert opened.status_code == 303, opened.text
    assert opened.headers["Location"].endswith("/exercises/add-one")
    cookie = opened.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    page = learner.get(grader.base_url + "/exercises/add-one", timeout=30)
    assert page.status_code == 200
    assert f"frame-ancestors 'self' {platform.browser_url}" in page.headers[
        "Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers

    # A wrong answer, graded in the sandbox, reaches the LMS's gradebook with its score.
    wrong = _graded(grader, submit(grader, learner, "add-one", WRONG))
    assert wrong.score is not None and 0 < wrong.score < 4
    score = _score_becomes(platform, lineitem_url, "learner-1", wrong.score)
    assert (score.maximum, score.activity, score.grading) == (4, "Completed", "FullyGraded")

    # Full marks next; then a wrong answer again: "best" keeps the 4.
    _graded(grader, submit(grader, learner, "add-one", CORRECT))
    _score_becomes(platform, lineitem_url, "learner-1", 4)
    posted = len(platform.scores[lineitem_url])
    _graded(grader, submit(grader, learner, "add-one", WRONG))
    wait_for(lambda: len(platform.scores[lineitem_url]) > posted, GRADING_S, "another post")
    assert platform.latest_score(lineitem_url, "learner-1").given == 4  # type: ignore[union-attr]

    # The instructor switches the course to "latest" on the setup page: the newest counts.
    answer = _post_form(teacher, grader, "/lti/setup/courses/policy",
                        issuer=platform.issuer, context_id=platform.context_id, policy="latest")
    assert answer.status_code == 303, answer.text[:500]
    _graded(grader, submit(grader, learner, "add-one", WRONG))
    _score_becomes(platform, lineitem_url, "learner-1", wrong.score)

    # The reference changes (x + 2 is now right); a regrade posts the new score.
    (grader.course / "reference" / "add-one.py").write_text(WRONG)
    version = ExerciseLibrary(grader.course).load("add-one").content_hash

    def new_version_shown() -> str | None:  # the web caches the course for a moment
        page = teacher.get(grader.base_url + "/instructor/exercises/add-one", timeout=30).text
        return page if version in page else None

    exercise_page = wait_for(new_version_shown, 30, "the web to see the new reference")
    regrade = teacher.post(grader.base_url + "/instructor/exercises/add-one/regrade",
                           data={"csrf_token": csrf(exercise_page)}, timeout=30,
                           allow_redirects=False)
    assert regrade.status_code in (302, 303), regrade.text[:500]
    _score_becomes(platform, lineitem_url, "learner-1", 4)

    # One client-credentials token served every post (cached until it expires).
    assert platform.token_requests - tokens_before == 1, platform.refused
    assert not [r for r in platform.refused[refused_before:] if r.startswith("strict")], (
        platform.refused)

    # The roster (NRPS) lists a learner who never submitted.
    roster = _post_form(teacher, grader, "/lti/setup/courses/roster", issuer=platform.issuer,
                        context_id=platform.context_id)
    assert roster.status_code == 303, roster.text[:800]
    setup = teacher.get(grader.base_url + "/lti/setup", timeout=30).text
    assert "Leo Learner" in setup and "no submission yet" in setup

    # The LMS is down when the second learner's score is posted: it stays pending, with the
    # error for the instructor, and arrives once the LMS is back.
    platform.ags_down = True
    other = browser_session()
    assert launch(platform, grader, other, "learner-2", str(link["link"])).status_code == 303
    # (x + 2 is the right answer since the reference changed)
    _graded(grader, submit(grader, other, "add-one", WRONG))
    lti = LtiStore(grader.store)
    learner_2 = username_for(platform.issuer, "learner-2")

    def pending_with_error() -> bool:
        states = lti.passbacks(learner_2, "add-one")
        return any(s.status == "pending" and s.error and "503" in s.error
                   for s in states.values())

    wait_for(pending_with_error, GRADING_S, "a pending passback with the LMS's error")
    setup = teacher.get(grader.base_url + "/lti/setup", timeout=30).text
    assert 'data-status="pending"' in setup and "503" in setup
    platform.ags_down = False
    _score_becomes(platform, lineitem_url, "learner-2", 4)
    wait_for(lambda: all(s.status == "delivered" for s in
                         lti.passbacks(learner_2, "add-one").values()), 30, "delivered")


def test_an_instructor_launch_opens_the_instructor_view(grader: Grader,
                                                        platform: Lms) -> None:
    teacher = browser_session()
    link = deep_link(platform, grader, teacher, "add-one")[0]
    opened = launch(platform, grader, browser_session(), "teacher-1", str(link["link"]))
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith("/instructor/exercises/add-one")


def test_rotated_keys_stay_published_and_new_answers_verify(grader: Grader,
                                                            platform: Lms) -> None:
    before = requests.get(grader.base_url + "/lti/jwks.json", timeout=10).json()["keys"]
    rotated = grader.cli("lti", "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    after = requests.get(grader.base_url + "/lti/jwks.json", timeout=10).json()["keys"]
    assert {k["kid"] for k in before} < {k["kid"] for k in after}
    assert all(k["alg"] == "RS256" and k["use"] == "sig" and "d" not in k for k in after)
    # The platform fetches the JWKS again and accepts an answer signed with the new key.
    assert deep_link(platform, grader, browser_session(), "add-one")


def test_the_setup_page_registers_a_platform_and_refuses_a_bad_one(
        grader: Grader, platform: Lms) -> None:
    teacher = browser_session()
    deep_link(platform, grader, teacher, "add-one")  # signs the instructor in
    fields = {"issuer": "https://moodle.example", "client_id": "abc", "deployment_ids": "1, 2",
              "auth_url": "https://moodle.example/mod/lti/auth.php",
              "token_url": "https://moodle.example/mod/lti/token.php",
              "jwks_url": "https://moodle.example/mod/lti/certs.php", "name": "Moodle"}
    bad = _post_form(teacher, grader, "/lti/setup/registrations",
                     **{**fields, "token_url": "token.php"})
    assert bad.status_code == 422 and "token_url" in bad.text
    good = _post_form(teacher, grader, "/lti/setup/registrations", **fields)
    assert good.status_code == 303
    registration = LtiStore(grader.store).registration("https://moodle.example", "abc")
    assert registration is not None and registration.deployment_ids == ["1", "2"]
    anonymous = requests.get(grader.base_url + "/lti/setup", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 302 and "/signin" in anonymous.headers["Location"]


def test_a_platform_may_post_the_login(grader: Grader, platform: Lms) -> None:
    response = browser_session().post(grader.base_url + "/lti/login", allow_redirects=False,
                                      timeout=30, data={"iss": platform.issuer,
                                                        "login_hint": "learner-1",
                                                        "client_id": platform.client_id})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(platform.browser_url + "/auth?")
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Path=/lti/" in cookie


def test_signing_out_inside_the_frame_deletes_the_partitioned_cookie(
        grader: Grader, platform: Lms) -> None:
    link = deep_link(platform, grader, browser_session(), "add-one")[0]
    learner = browser_session()
    assert launch(platform, grader, learner, "learner-1", str(link["link"])).status_code == 303
    page = learner.get(grader.base_url + "/exercises/add-one", timeout=30)
    out = learner.post(grader.base_url + "/signout", data={"csrf_token": csrf(page.text)},
                       allow_redirects=False, timeout=30)
    assert out.status_code == 302
    # The signed-out session (a flash message) replaces the cookie in the frame's partition; a
    # plain cookie would leave the partitioned one, still signed in, behind.
    replaced = out.headers["Set-Cookie"]
    assert "Partitioned" in replaced and "SameSite=None" in replaced and "Secure" in replaced
    gone = learner.get(grader.base_url + "/exercises/add-one", allow_redirects=False,
                       timeout=30)
    assert gone.status_code == 302 and "/signin" in gone.headers["Location"]


def test_a_link_without_a_line_item_gets_one_made_by_the_grader(
        grader: Grader, platform: Lms) -> None:
    # A link an instructor added by hand (custom parameter exercise=add-one), not graded yet:
    # the launch names the line items service only.
    platform.links["rl-manual"] = ResourceLink("rl-manual", "Add one (manual)",
                                               platform.launch_url, {"exercise": "add-one"},
                                               None)
    learner = browser_session()
    assert launch(platform, grader, learner, "learner-1", "rl-manual").status_code == 303
    _graded(grader, submit(grader, learner, "add-one", WRONG))

    def made() -> list[dict[str, Any]]:
        return [i for i in platform.lineitems.values()
                if i.get("resourceLinkId") == "rl-manual"]

    items = wait_for(made, GRADING_S, "the line item the grader makes")
    assert len(items) == 1 and items[0]["scoreMaximum"] == 4
    assert items[0]["tag"] == "grader:add-one" and items[0]["label"].startswith("Add one")
    url = str(items[0]["id"])
    wait_for(lambda: platform.scores.get(url), GRADING_S, "a score on the new line item")
    lti = LtiStore(grader.store)
    learner_1 = username_for(platform.issuer, "learner-1")
    key = f"{platform.url}/lineitems#rl-manual"
    state = wait_for(lambda: (s := lti.passbacks(learner_1, "add-one").get(key)) and (
        s.status == "delivered") and s, 30, "the delivered state")
    assert platform.latest_score(url, "learner-1").given == state.score  # type: ignore[union-attr]
    _graded(grader, submit(grader, learner, "add-one", CORRECT))
    wait_for(lambda: len(platform.scores.get(url, [])) >= 2, GRADING_S, "a second score")
    assert len(made()) == 1, "the line item is found again, not made twice"


def test_the_platforms_key_set_is_kept_and_fetched_again_when_it_rotates(
        grader: Grader, platform: Lms) -> None:
    from tests.lti.platform import _key_pair

    link = deep_link(platform, grader, browser_session(), "add-one")[0]
    fetches = platform.jwks_fetches
    assert launch(platform, grader, browser_session(), "learner-1",
                  str(link["link"])).status_code == 303
    assert launch(platform, grader, browser_session(), "learner-1",
                  str(link["link"])).status_code == 303
    assert platform.jwks_fetches - fetches <= 1, "the key set is kept between launches"
    platform.private_pem, platform.public_pem = _key_pair()  # the LMS rotates its key
    assert launch(platform, grader, browser_session(), "learner-1",
                  str(link["link"])).status_code == 303
