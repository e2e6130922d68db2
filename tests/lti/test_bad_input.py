"""Every bad launch is refused with a 4xx page that names the problem, stores nothing and signs
nobody in: forged or expired tokens, wrong issuer, audience or deployment, replayed nonce or
state, an unknown resource link, a missing role claim, a blocked cookie, bad login requests.

Each case starts a real login on the grader (so the state and nonce are genuine), then posts an
id_token signed like the platform would sign it, with one thing wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from jwcrypto.jwk import JWK

from common.lti.store import LtiStore
from grader.accounts import AccountStore
from grader.lti.identity import username_for
from tests.lti.conftest import Grader, browser_session
from tests.lti.platform import INSTRUCTOR, LEARNER, Lms

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def begin(grader: Grader, platform: Lms, session: requests.Session) -> tuple[str, str]:
    """A genuine login on the grader; returns its state and nonce."""
    response = session.get(grader.base_url + "/lti/login", allow_redirects=False, timeout=30,
                           params={"iss": platform.issuer, "login_hint": "x",
                                   "target_link_uri": platform.launch_url,
                                   "client_id": platform.client_id,
                                   "lti_deployment_id": platform.deployment_id})
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return query["state"][0], query["nonce"][0]


def claims_for(platform: Lms, nonce: str, sub: str) -> dict[str, Any]:
    """The claims of a valid learner launch of the add-one exercise."""
    now = int(time.time())
    return {
        "iss": platform.issuer, "aud": platform.client_id, "azp": platform.client_id,
        "sub": sub, "exp": now + 300, "iat": now, "nonce": nonce, "name": "Mallory",
        CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": platform.deployment_id,
        CLAIM + "target_link_uri": platform.launch_url,
        CLAIM + "resource_link": {"id": f"link-{sub}"}, CLAIM + "roles": [LEARNER],
        CLAIM + "custom": {"exercise": "add-one"},
        CLAIM + "context": {"id": platform.context_id, "title": "Intro"},
    }


def sign(platform: Lms, claims: dict[str, Any], key: str | None = None,
         algorithm: str = "RS256") -> str:
    kid = JWK.from_pem(platform.public_pem.encode()).thumbprint()
    return jwt.encode(claims, key or platform.private_pem, algorithm=algorithm,
                      headers={"kid": kid})


def _other_key() -> str:
    return JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True,
                                                            password=None).decode()


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(claims: dict[str, Any]) -> None:
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value(claims) if callable(value) else value
    return change


# (case, change to the claims, signing key or algorithm, expected status, words of the message)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, int, str]] = [
    ("forged", _set("name", "Mallory"), "other-key", 401, "signature"),
    ("expired", _set("exp", lambda c: c["iat"] - 10), "", 401, "expired"),
    ("future", _set("iat", lambda c: c["iat"] + 3600), "", 401, "iat"),
    ("issuer", _set("iss", "https://evil.example"), "", 400, "not registered"),
    ("audience", _set("aud", "someone-else"), "", 400, "not registered"),
    ("azp", _set("aud", lambda c: [c["aud"], "another-tool"]) , "no-azp", 401, "azp"),
    ("deployment", _set(CLAIM + "deployment_id", "elsewhere"), "", 400, "deployment"),
    ("nonce", _set("nonce", "not-the-issued-one"), "", 401, "nonce"),
    ("roles-missing", _set(CLAIM + "roles", None), "", 400, "roles"),
    ("roles-unknown", _set(CLAIM + "roles", [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"]), "", 403, "roles"),
    ("no-exercise", _set(CLAIM + "custom", None), "", 404, "names no exercise"),
    ("unknown-exercise", _set(CLAIM + "custom", {"exercise": "no-such"}), "", 404,
     "names no exercise"),
    ("message-type", _set(CLAIM + "message_type", "LtiSubmissionReviewRequest"), "", 400,
     "message"),
    ("hs256", _set("name", "Mallory"), "hs256", 401, "RS256"),
    ("version", _set(CLAIM + "version", "1.1"), "", 400, "version"),
]


def _nothing_happened(grader: Grader, platform: Lms, session: requests.Session,
                      sub: str) -> None:
    page = session.get(grader.base_url + "/exercises/add-one", allow_redirects=False,
                       timeout=30)
    assert page.status_code == 302 and "/signin" in page.headers["Location"], "signed in!"
    username = username_for(platform.issuer, sub)
    assert AccountStore(grader.store).get(username) is None
    lti = LtiStore(grader.store)
    assert lti.person(username) is None and not lti.targets(username, "add-one")
    assert lti.bound_link(platform.issuer, platform.client_id, platform.deployment_id,
                          f"link-{sub}") is None


@pytest.mark.parametrize(("case", "change", "signing", "status", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_bad_launch_is_refused_and_changes_nothing(
        grader: Grader, platform: Lms, case: str, change: Callable[[dict[str, Any]], None],
        signing: str, status: int, words: str) -> None:
    session = browser_session()
    state, nonce = begin(grader, platform, session)
    sub = f"bad-{case}"
    claims = claims_for(platform, nonce, sub)
    change(claims)
    if signing == "no-azp":
        claims.pop("azp")
    if signing == "hs256":
        token = jwt.encode(claims, "a-shared-secret-of-enough-length-for-hs256",
                           algorithm="HS256", headers={"kid": "x"})
    else:
        token = sign(platform, claims, _other_key() if signing == "other-key" else None)
    response = session.post(grader.base_url + "/lti/launch", timeout=30,
                            data={"id_token": token, "state": state}, allow_redirects=False)
    assert response.status_code == status, response.text[-3000:]
    assert words.lower() in response.text.lower(), response.text[-3000:]
    assert 'data-testid="lti-error"' in response.text
    _nothing_happened(grader, platform, session, sub)


def test_the_valid_launch_these_cases_spoil_is_accepted(grader: Grader,
                                                        platform: Lms) -> None:
    session = browser_session()
    state, nonce = begin(grader, platform, session)
    token = sign(platform, claims_for(platform, nonce, "good-learner"))
    response = session.post(grader.base_url + "/lti/launch", timeout=30,
                            data={"id_token": token, "state": state}, allow_redirects=False)
    assert response.status_code == 303, response.text[-2000:]
    assert session.get(grader.base_url + "/exercises/add-one", timeout=30).status_code == 200


def test_a_replayed_launch_is_refused(grader: Grader, platform: Lms) -> None:
    session = browser_session()
    state, nonce = begin(grader, platform, session)
    token = sign(platform, claims_for(platform, nonce, "replayed"))
    form = {"id_token": token, "state": state}
    first = session.post(grader.base_url + "/lti/launch", data=form, allow_redirects=False,
                         timeout=30)
    assert first.status_code == 303
    # The exact request again, with its cookies (the state cookie included), in a new browser.
    thief = browser_session()
    thief.cookies.update(session.cookies)
    thief.cookies.clear(domain="127.0.0.1", path="/", name="session")
    again = thief.post(grader.base_url + "/lti/launch", data=form, allow_redirects=False,
                       timeout=30)
    assert again.status_code == 400 and "used already" in again.text
    assert thief.get(grader.base_url + "/exercises/add-one", allow_redirects=False,
                     timeout=30).status_code == 302


def test_a_state_reused_with_another_token_is_refused(grader: Grader,
                                                      platform: Lms) -> None:
    session = browser_session()
    state, nonce = begin(grader, platform, session)
    first = session.post(grader.base_url + "/lti/launch", allow_redirects=False, timeout=30,
                         data={"id_token": sign(platform, claims_for(platform, nonce, "s1")),
                               "state": state})
    assert first.status_code == 303
    _, other_nonce = begin(grader, platform, session)
    again = session.post(grader.base_url + "/lti/launch", allow_redirects=False, timeout=30,
                         data={"id_token": sign(platform, claims_for(platform, other_nonce,
                                                                     "s2")),
                               "state": state})
    assert again.status_code == 400 and "state" in again.text


def test_a_launch_without_the_state_cookie_offers_a_new_window(grader: Grader,
                                                               platform: Lms) -> None:
    session = browser_session()
    state, nonce = begin(grader, platform, session)
    cookieless = browser_session()  # a browser that blocked the third-party cookie
    response = cookieless.post(grader.base_url + "/lti/launch", allow_redirects=False,
                               timeout=30, data={"state": state, "id_token": sign(
                                   platform, claims_for(platform, nonce, "cookieless"))})
    assert response.status_code == 400
    assert 'data-testid="lti-new-window"' in response.text and 'target="_blank"' in response.text
    assert "lti1p3_new_window=1" in response.text
    _nothing_happened(grader, platform, cookieless, "cookieless")


@pytest.mark.parametrize(("form", "words"), [
    ({}, "no id_token"),
    ({"id_token": "x.y.z"}, "no state"),
    ({"id_token": "x.y.z", "state": "state-unknown"}, "not issued"),
], ids=["no-token", "no-state", "unknown-state"])
def test_a_launch_missing_its_parts_is_refused(grader: Grader, form: dict[str, str],
                                               words: str) -> None:
    response = requests.post(grader.base_url + "/lti/launch", data=form, timeout=30)
    assert response.status_code == 400 and words in response.text


@pytest.mark.parametrize(("params", "words"), [
    ({"iss": "https://unknown.example", "login_hint": "x"}, "not registered"),
    ({}, "no iss"),
    ({"login_hint": "x", "client_id": "wrong"}, "not registered"),
    ({"target_link_uri": "https://elsewhere.example/launch", "login_hint": "x"},
     "not on this grader"),
    ({"lti_deployment_id": "nope", "login_hint": "x"}, "deployment"),
    ({"login_hint": ""}, "login_hint"),
], ids=["unknown-issuer", "no-issuer", "wrong-client", "foreign-target", "deployment",
        "no-hint"])
def test_a_bad_login_is_refused(grader: Grader, platform: Lms, params: dict[str, str],
                                words: str) -> None:
    query = {"iss": platform.issuer, "client_id": platform.client_id, **params}
    if not params:
        query = {}
    response = requests.get(grader.base_url + "/lti/login", params=query, timeout=30,
                            allow_redirects=False)
    assert response.status_code == 400, response.text[-2000:]
    assert words in response.text and "Set-Cookie" not in response.headers


def test_a_learner_cannot_deep_link(grader: Grader, platform: Lms) -> None:
    session = browser_session()
    state, nonce = begin(grader, platform, session)
    claims = claims_for(platform, nonce, "dl-learner")
    claims[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
    claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
        "deep_link_return_url": platform.url + "/deep-link-return",
        "accept_types": ["ltiResourceLink"], "accept_presentation_document_targets": ["iframe"]}
    response = session.post(grader.base_url + "/lti/launch", allow_redirects=False, timeout=30,
                            data={"id_token": sign(platform, claims), "state": state})
    assert response.status_code == 403 and "only instructors" in response.text
    _nothing_happened(grader, platform, session, "dl-learner")
    assert INSTRUCTOR not in claims[CLAIM + "roles"]


def test_pages_outside_a_launch_still_refuse_every_frame(grader: Grader) -> None:
    page = requests.get(grader.base_url + "/signin", timeout=30)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    # Only a launch's session is sent into cross-site frames.
    assert "SameSite=None" not in page.headers.get("Set-Cookie", "")


def test_logins_are_limited_per_address(grader: Grader) -> None:
    from grader.app import create_app

    app = create_app({"TESTING": True, "REDIS_URL": grader.env["GRADER_REDIS_URL"],
                      "KEY_PREFIX": f"rl{int(time.time() * 1000)}", "SECRET_KEY": "x",
                      "LTI_LOGIN_RATE_LIMIT": "2 per minute"})
    client = app.test_client()
    statuses = [client.get("/lti/login?iss=https://unknown.example&login_hint=x").status_code
                for _ in range(3)]
    assert statuses == [400, 400, 429]
