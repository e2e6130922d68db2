"""The LTI endpoints: ``/lti/jwks.json``, ``/lti/login``, ``/lti/launch``.

Every refusal is an error page with a 4xx status that names the problem for the LMS's
administrator; nothing is stored and nobody is signed in before a launch passed every check.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import redis
from flask import current_app, jsonify, redirect, render_template, request, url_for
from pydantic import ValidationError
from pylti1p3.exception import LtiException, OIDCException, ToolConfException
from werkzeug.wrappers import Response

from common.lti.models import AGS_LINEITEM_SCOPE, AGS_SCORE_SCOPE, GradeTarget, origin_of
from grader.catalogue import get_catalogue
from grader.limits import limiter
from grader.lti import deeplink
from grader.lti.arrival import remember_course, sign_in_from
from grader.lti.blueprint import bp, refuse
from grader.lti.context import base_url, launch_url, lti_store, records, tool_keys
from grader.lti.launch import CookiesBlocked, LaunchRefused, VerifiedLaunch, verify_launch
from grader.lti.states import LoginState
from grader.lti.tool import CookieJar, FormRequest, Login, RedisSessionService, ToolConf

logger = logging.getLogger(__name__)

LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "lti_deployment_id",
                "client_id")
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


@bp.get("/jwks.json")
def jwks() -> Response:
    """The tool's public keys (active, and retired ones still in their grace period)."""
    response = jsonify(tool_keys().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _login_key() -> str:
    # Each login keeps a state and a nonce in Redis for ten minutes: limited per address.
    return f"lti-login:{request.remote_addr}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: str(current_app.config["LTI_LOGIN_RATE_LIMIT"]), key_func=_login_key)
def login() -> Response | tuple[str, int]:
    """OIDC third-party-initiated login: check the platform, remember a state and a nonce,
    and send the browser to the platform's authorization endpoint."""
    params = {k: str(request.values.get(k, ""))[:2000] for k in LOGIN_PARAMS
              if request.values.get(k)}
    issuer, client_id = params.get("iss", ""), params.get("client_id")
    if not issuer:
        return refuse(400, "the login request has no iss (issuer) parameter")
    registration = lti_store().registration(issuer, client_id)
    if registration is None:
        return refuse(400, f"the platform {issuer!r} (client id {client_id or 'not given'}) is "
                           "not registered with the grader; register it with 'grader lti "
                           "register' or on the grader's LTI setup page")
    if not params.get("login_hint"):
        return refuse(400, "the login request has no login_hint parameter")
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in registration.deployment_ids:
        return refuse(400, f"the deployment {deployment!r} is not registered for {issuer}")
    target = params.get("target_link_uri", "")
    if target and origin_of(target) != origin_of(base_url()):
        return refuse(400, f"the target_link_uri {target!r} is not on this grader "
                           f"({origin_of(base_url())})")
    cookies = CookieJar()
    service = RedisSessionService(records())
    oidc = Login(FormRequest(), ToolConf(lti_store(), tool_keys()), session_service=service,
                 cookie_service=cookies)
    oidc.pass_params_to_launch({"iss": issuer})
    try:
        location = oidc.get_redirect_object(launch_url()).get_redirect_url()
    except (LtiException, OIDCException, ToolConfException) as exc:
        return refuse(400, f"the login request was refused: {exc}")
    assert service.state is not None and service.nonce is not None
    records().save_login(service.state, LoginState(
        issuer=issuer, client_id=registration.client_id, nonce=service.nonce, params=params))
    return cookies.apply(redirect(location, code=302))


def _new_window(blocked: CookiesBlocked) -> tuple[str, int]:
    query = urlencode({**blocked.login.params, "lti1p3_new_window": "1"})
    return render_template("lti/new_window.html",
                           url=f"{url_for('lti.login')}?{query}"), 400


@bp.post("/launch")
def launch() -> Response | tuple[str, int]:
    """The platform's signed launch: verify it, then open the exercise, its instructor view,
    or the deep-linking picker."""
    try:
        verified = verify_launch(lti_store(), tool_keys(), records(),
                                 float(current_app.config["LTI_HTTP_TIMEOUT_S"]))
        if verified.message_type == "LtiDeepLinkingRequest":
            return deeplink.start(verified)
        return _resource_launch(verified)
    except CookiesBlocked as blocked:
        return _new_window(blocked)
    except LaunchRefused as exc:
        return refuse(exc.status, exc.message)
    except redis.RedisError:
        logger.exception("LTI launch: Redis unavailable")
        return refuse(503, "the grader's store is unavailable; try again in a minute",
                      "Grader unavailable")


def _resource_launch(verified: VerifiedLaunch) -> Response:
    lti = lti_store()
    custom = verified.claim("custom")
    slug = custom.get("exercise")
    info = get_catalogue().get(slug) if isinstance(slug, str) else None
    if info is None:
        raise LaunchRefused(404, f"this LMS link names no exercise of the grader (custom "
                                 f"parameter exercise={slug!r}); add it again with the "
                                 "grader's exercise picker (deep linking)")
    link_id = verified.claim("resource_link").get("id")
    if not isinstance(link_id, str) or not link_id:
        raise LaunchRefused(400, "the id_token has no resource link id")
    registration = verified.registration
    bound = lti.bound_link(registration.issuer, registration.client_id,
                           verified.deployment_id, link_id)
    if bound is not None and bound != info.slug:
        raise LaunchRefused(409, f"this LMS link opened the exercise {bound!r} before and now "
                                 f"names {info.slug!r}; add a new link instead of editing it")
    if not (verified.is_instructor or verified.is_learner):
        raise LaunchRefused(403, f"the launch's roles {verified.roles} are neither a "
                                 "learner's nor an instructor's")
    if not records().consume(verified.state, verified.nonce):
        raise LaunchRefused(400, "this launch's state or nonce was used already (a replayed "
                                 "launch); launch again from the LMS")
    lti.bind_link(registration.issuer, registration.client_id, verified.deployment_id,
                  link_id, info.slug)
    account = sign_in_from(verified)
    course = remember_course(verified)
    if verified.is_instructor:
        return redirect(url_for("teach.exercise_stats", slug=info.slug), code=303)
    ags = verified.claim(AGS_CLAIM)
    lineitem, lineitems, scopes = ags.get("lineitem"), ags.get("lineitems"), ags.get("scope")
    scopes = scopes if isinstance(scopes, list) else []
    # A line item named by the launch, else one the worker makes (when the tool may).
    graded = isinstance(lineitem, str) or (
        isinstance(lineitems, str) and AGS_LINEITEM_SCOPE in scopes)
    if course is not None and graded and AGS_SCORE_SCOPE in scopes:
        try:
            target = GradeTarget(
                issuer=registration.issuer, client_id=registration.client_id,
                deployment_id=verified.deployment_id, context_id=course.context_id,
                resource_link_id=link_id, user_id=verified.sub, learner=account.username,
                exercise=info.slug, label=info.title, score_maximum=info.points,
                lineitem=lineitem if isinstance(lineitem, str) else None,
                lineitems=lineitems if isinstance(lineitems, str) else None)
        except ValidationError:
            logger.warning("launch with unusable AGS endpoints %r; no score passback", ags)
        else:
            lti.put_target(target)
    return redirect(url_for("learn.exercise", slug=info.slug), code=303)
