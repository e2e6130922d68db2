"""LTI Dynamic Registration 1.0: an LMS administrator pastes a one-time registration link made
on the setup page; the LMS opens it with its ``openid_configuration`` URL (and a
``registration_token``), and the grader registers itself with the platform and the platform
with itself, in one step.

pylti1p3's :class:`~pylti1p3.dynamic_registration.DynamicRegistration` does the protocol; the
grader adds timeouts (and no redirects) on both calls, checks the platform's answers instead of
``assert`` (which ``python -O`` removes), and requires the one-time link: without it, anyone
could register a platform, and a registered platform's instructors are the grader's instructors.

Keys: ``P:lti:dr:<sha256 of the link's token>`` (string, expires after a day) -> who made it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app, render_template, request
from pylti1p3.dynamic_registration import DynamicRegistration
from pylti1p3.exception import LtiException

from common.lti.models import AGS_SCORE_SCOPE, NRPS_SCOPE, Registration
from common.lti.services import TimeoutSession
from grader.lti.blueprint import bp, refuse
from grader.lti.context import base_url, external, launch_url, lti_store
from grader.storage import get_store

LINK_TTL_S = 86400
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


def _key(token: str) -> str:
    return get_store().key("lti", "dr", hashlib.sha256(token.encode()).hexdigest())


def create_link(created_by: str) -> str:
    """A one-time registration URL for an LMS administrator (valid for a day)."""
    token = secrets.token_urlsafe(24)
    get_store().client.set(_key(token), created_by, ex=LINK_TTL_S)
    return external("lti.dynamic_register", token=token)


class GraderRegistration(DynamicRegistration):
    """What the grader tells a platform about itself, and what it keeps of the answer."""

    client_name = "PyTorch Grader"
    description = ("Exercises for an introductory PyTorch course, graded against reference "
                   "solutions; scores go to the gradebook.")

    def __init__(self, config_url: str, registration_token: str, timeout_s: float) -> None:
        self.config_url = config_url
        self.registration_token = registration_token
        self.timeout_s = timeout_s
        self.registration: Registration | None = None

    def get_request_session(self) -> requests.Session:
        return TimeoutSession(self.timeout_s)

    def get_initiate_login_uri(self) -> str:
        return external("lti.login")

    def get_jwks_uri(self) -> str:
        return external("lti.jwks")

    def get_redirect_uris(self) -> list[str]:
        return [launch_url()]

    def get_scopes(self) -> list[str]:
        return [AGS_SCORE_SCOPE, LINEITEM_SCOPE, NRPS_SCOPE]

    def get_domain(self) -> str:
        return urlsplit(base_url()).netloc

    def get_target_link_uri(self) -> str:
        return launch_url()

    def get_claims(self) -> list[str]:
        return ["iss", "sub", "name", "given_name", "family_name", "email"]

    def get_messages(self) -> list[dict[str, str]]:
        return [{"type": "LtiDeepLinkingRequest", "target_link_uri": launch_url(),
                 "label": "PyTorch Grader exercise"}]

    def get_logo_uri(self) -> str:
        return external("static", filename="favicon.svg")

    def get_openid_configuration_endpoint(self) -> str:
        return self.config_url

    def get_registration_token(self) -> str:
        # None, not "": the library would send "Authorization: Bearer " with nothing after it.
        return self.registration_token or None  # type: ignore[return-value]

    def complete_registration(self, openid_configuration: dict[str, Any],
                              openid_registration: dict[str, Any]) -> Registration:
        tool = openid_registration.get(TOOL_CONFIG) or {}
        platform = openid_configuration.get(PLATFORM_CONFIG) or {}
        deployment = tool.get("deployment_id") if isinstance(tool, dict) else None
        if not isinstance(deployment, str) or not deployment:
            raise LtiException("the platform's answer names no deployment_id")
        name = platform.get("product_family_code", "") if isinstance(platform, dict) else ""
        self.registration = Registration(
            issuer=str(openid_configuration.get("issuer", "")),
            client_id=str(openid_registration.get("client_id", "")),
            deployment_ids=[deployment],
            auth_url=str(openid_configuration.get("authorization_endpoint", "")),
            token_url=str(openid_configuration.get("token_endpoint", "")),
            jwks_url=str(openid_configuration.get("jwks_uri", "")),
            audience=openid_configuration.get("authorization_server") or None,
            name=f"{name} (dynamic registration)".strip(), created_at=time.time())
        return self.registration


@bp.get("/register/<token>")
def dynamic_register(token: str) -> tuple[str, int]:
    """The registration link the LMS opens: register with the platform, and it with us."""
    if len(token) > 100 or not get_store().client.exists(_key(token)):
        return refuse(404, "this registration link is unknown, expired or used; make a new "
                           "one on the grader's LTI setup page", "Registration link invalid")
    config_url = request.args.get("openid_configuration", "")
    if urlsplit(config_url).scheme not in ("http", "https"):
        return refuse(400, "the LMS sent no openid_configuration URL", "Registration refused")
    flow = GraderRegistration(config_url, request.args.get("registration_token", ""),
                              float(current_app.config["LTI_HTTP_TIMEOUT_S"]))
    try:
        flow.register()
    except (LtiException, requests.RequestException, AssertionError, ValueError) as exc:
        return refuse(502, f"the LMS's registration failed: {exc}", "Registration failed")
    assert flow.registration is not None
    if not get_store().client.delete(_key(token)):  # another tab used the link meanwhile
        return refuse(409, "this registration link was used already", "Registration refused")
    lti_store().put_registration(flow.registration)
    return render_template("lti/registered.html", registration=flow.registration), 200
