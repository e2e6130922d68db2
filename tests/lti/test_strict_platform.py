"""The test LMS is strict where lti1p3platform is lenient, so that a sloppy tool fails the end-
to-end test: each check here is something the library alone would have let through."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import requests

from common.lti.keys import ToolKeys
from tests.lti.conftest import Grader
from tests.lti.platform import LINEITEM_SCOPE, SCORE_SCOPE, Lms


def _assertion(grader: Grader, platform: Lms, **changes: Any) -> str:
    key = ToolKeys(grader.store).active()
    now = int(time.time())
    claims = {"iss": platform.client_id, "sub": platform.client_id,
              "aud": platform.url + "/token", "iat": now, "exp": now + 60,
              "jti": uuid.uuid4().hex, **changes}
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def _token(platform: Lms, assertion: str, scope: str = SCORE_SCOPE) -> requests.Response:
    return requests.post(platform.url + "/token", timeout=30, data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion, "scope": scope})


def test_the_token_endpoint_checks_the_assertion_and_the_scopes(grader: Grader,
                                                                platform: Lms) -> None:
    assert _token(platform, _assertion(grader, platform)).status_code == 200
    assert _token(platform, _assertion(grader, platform, aud="https://else")).status_code == 401
    assert _token(platform, _assertion(grader, platform, iss="other")).status_code == 401
    assertion = _assertion(grader, platform)
    assert _token(platform, assertion).status_code == 200
    assert _token(platform, assertion).status_code == 401  # jti reused
    expired = _assertion(grader, platform, exp=int(time.time()) - 5)
    assert _token(platform, expired).status_code == 401
    assert _token(platform, _assertion(grader, platform),
                  scope="https://purl.imsglobal.org/spec/lti-ags/scope/everything"
                  ).status_code == 400


def _score(platform: Lms, token: str, lineitem: str, stamp: datetime,
           media: str = "application/vnd.ims.lis.v1.score+json") -> int:
    body = {"userId": "learner-1", "scoreGiven": 1, "scoreMaximum": 4,
            "activityProgress": "Completed", "gradingProgress": "FullyGraded",
            "timestamp": stamp.isoformat()}
    return requests.post(lineitem + "/scores", json=body, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": media}).status_code


def test_the_score_endpoint_wants_the_score_scope_the_media_type_and_newer_times(
        grader: Grader, platform: Lms) -> None:
    lineitem = platform.url + "/lineitems/777"
    platform.lineitems[lineitem] = {"id": lineitem, "scoreMaximum": 4}
    readonly = _token(platform, _assertion(grader, platform), LINEITEM_SCOPE).json()
    scored = _token(platform, _assertion(grader, platform), SCORE_SCOPE).json()
    now = datetime.now(UTC)
    assert _score(platform, readonly["access_token"], lineitem, now) == 401
    assert _score(platform, scored["access_token"], lineitem, now, "application/json") == 415
    assert _score(platform, scored["access_token"], lineitem, now) == 200
    assert _score(platform, scored["access_token"], lineitem, now - timedelta(seconds=1)) == 409


def test_the_authorization_endpoint_posts_only_to_the_registered_redirect(
        grader: Grader, platform: Lms) -> None:
    response = requests.get(platform.url + "/auth", timeout=30, params={
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post",
        "prompt": "none", "client_id": platform.client_id, "login_hint": "learner-1",
        "redirect_uri": "https://attacker.example/steal", "state": "s", "nonce": "n",
        "lti_message_hint": "deep-link"})
    assert response.status_code == 400 and "redirect_uri" in response.text


def test_a_deep_linking_answer_must_echo_the_data_and_be_signed_by_the_tool(
        grader: Grader, platform: Lms) -> None:
    key = ToolKeys(grader.store).active()
    now = int(time.time())
    claims = {"iss": platform.client_id, "aud": [platform.issuer], "iat": now, "exp": now + 60,
              "nonce": "n", "https://purl.imsglobal.org/spec/lti/claim/deployment_id":
              platform.deployment_id,
              "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingResponse",
              "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
              "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [],
              "https://purl.imsglobal.org/spec/lti-dl/claim/data": "not-what-was-sent"}
    signed = jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
    response = requests.post(platform.url + "/deep-link-return", data={"JWT": signed},
                             timeout=30)
    assert response.status_code == 400 and "data" in response.text
    claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = platform.dl_data
    forged = jwt.encode(claims, platform.private_pem, algorithm="RS256",
                        headers={"kid": key.kid})
    assert requests.post(platform.url + "/deep-link-return", data={"JWT": forged},
                         timeout=30).status_code == 401
