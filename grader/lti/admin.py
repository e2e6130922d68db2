"""The instructors' LTI page (``/lti/setup``): the URLs an LMS administrator pastes, the
registered platforms (and a form to add one), the tool's keys, the courses with their score
policy and roster, and the state of every score posted to an LMS, with a retry button.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from flask import flash, redirect, render_template, request, url_for
from pydantic import ValidationError
from pylti1p3.exception import LtiException
from pylti1p3.names_roles import NamesRolesProvisioningService
from werkzeug.wrappers import Response

from common.contract import CALLBACK_QUEUE
from common.lti.models import SCORE_POLICIES, PassbackState, Registration
from common.lti.passback import LTI_SCORE_TASK, task_argument
from common.lti.services import CachedConnector
from grader.dispatch import get_dispatcher
from grader.lti.blueprint import bp
from grader.lti.context import external, launch_url, lti_store, tool_keys
from grader.lti.dynamic import create_link
from grader.lti.identity import username_for
from grader.pages.forms import PostForm
from grader.pages.session import instructor_required, signed_in
from grader.statistics import Statistics
from grader.storage import get_store

FIELDS = ("issuer", "client_id", "deployment_ids", "auth_url", "token_url", "jwks_url",
          "audience", "frame_origins", "name")


def tool_urls() -> dict[str, str]:
    """What an LMS administrator pastes into the LMS's tool configuration."""
    return {"Login (OIDC initiation) URL": external("lti.login"),
            "Redirect / launch URL": launch_url(),
            "Deep linking URL": launch_url(),
            "Public keyset (JWKS) URL": external("lti.jwks"),
            "Tool URL": external("learn.exercises")}


def _split(text: str) -> list[str]:
    return [p for p in text.replace(",", " ").split() if p]


def registration_from(form: dict[str, str]) -> Registration:
    """A registration from the setup page's form (or the CLI's options)."""
    return Registration(
        issuer=form.get("issuer", "").strip(), client_id=form.get("client_id", "").strip(),
        deployment_ids=_split(form.get("deployment_ids", "")),
        auth_url=form.get("auth_url", "").strip(), token_url=form.get("token_url", "").strip(),
        jwks_url=form.get("jwks_url", "").strip(),
        audience=form.get("audience", "").strip() or None,
        frame_origins=_split(form.get("frame_origins", "")),
        name=form.get("name", "").strip()[:200], created_at=time.time())


def _page(status: int = 200, form: dict[str, str] | None = None,
          problems: list[str] | None = None, link: str | None = None) -> tuple[str, int]:
    lti = lti_store()
    rosters = {c.key: lti.roster(c) for c in lti.courses()}
    return render_template(
        "lti/setup.html", urls=tool_urls(), registrations=lti.registrations(),
        keys=tool_keys().all(), active_kid=tool_keys().active().kid,
        courses=lti.courses(), policies=SCORE_POLICIES, rosters=rosters,
        passbacks=lti.recent_passbacks(), people=lti.people(), form=form or {},
        problems=problems or [], fields=FIELDS, gradebook=Statistics(get_store()).gradebook(),
        username_for=username_for, dynamic_link=link), status


@bp.get("/setup")
@instructor_required
def setup() -> tuple[str, int]:
    """The setup page."""
    return _page()


@bp.post("/setup/registrations")
@instructor_required
def register() -> Response | tuple[str, int]:
    """Add (or replace) a platform registration."""
    form = {k: str(request.form.get(k, "")) for k in FIELDS}
    if not PostForm().validate_on_submit():
        return _page(400, form, ["The form expired; reload the page and try again."])
    try:
        registration = registration_from(form)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _page(422, form, problems)
    lti_store().put_registration(registration)
    flash(f"Registered {registration.issuer} (client id {registration.client_id}).", "success")
    return redirect(url_for("lti.setup"), code=303)


@bp.post("/setup/dynamic")
@instructor_required
def dynamic_link() -> tuple[str, int]:
    """A one-time link for LTI Dynamic Registration (shown once)."""
    if not PostForm().validate_on_submit():
        return _page(400, problems=["The form expired; reload the page and try again."])
    return _page(link=create_link(f"account:{signed_in().username}"))


@bp.post("/setup/keys/rotate")
@instructor_required
def rotate_keys() -> Response:
    """Rotate the tool's key (the old one stays in the JWKS for its grace period)."""
    if PostForm().validate_on_submit():
        new, _ = tool_keys().rotate()
        flash(f"New signing key {new.kid[:12]}…; the previous key stays published for a week.",
              "success")
    return redirect(url_for("lti.setup"), code=303)


@bp.post("/setup/courses/policy")
@instructor_required
def course_policy() -> Response | tuple[str, int]:
    """Choose a course's score policy (best or latest)."""
    policy = request.form.get("policy", "")
    if not PostForm().validate_on_submit() or policy not in SCORE_POLICIES:
        return _page(400, problems=["Choose best or latest."])
    if not lti_store().set_policy(request.form.get("issuer", ""),
                                  request.form.get("context_id", ""), policy):
        return _page(404, problems=["That course is unknown."])
    flash(f"Score policy set to {policy}; it applies to the next score posted.", "success")
    return redirect(url_for("lti.setup"), code=303)


@bp.post("/setup/passbacks/retry")
@instructor_required
def retry_passback() -> Response | tuple[str, int]:
    """Queue a learner's score for an exercise again (after a failure)."""
    learner, slug = request.form.get("learner", ""), request.form.get("exercise", "")
    lti = lti_store()
    if not PostForm().validate_on_submit() or not lti.targets(learner, slug):
        return _page(400, problems=["Nothing to retry for that learner and exercise."])
    for lineitem, state in lti.passbacks(learner, slug).items():
        lti.set_passback(learner, slug, lineitem, PassbackState(
            status="pending", attempts=state.attempts, submission_id=state.submission_id,
            score=state.score, max_score=state.max_score))
    get_dispatcher().send(LTI_SCORE_TASK, task_argument(learner, slug), CALLBACK_QUEUE)
    flash("The score is queued again.", "success")
    return redirect(url_for("lti.setup"), code=303)


@bp.post("/setup/courses/roster")
@instructor_required
def fetch_roster() -> Response | tuple[str, int]:
    """Fetch a course's members through Names and Role Provisioning Services."""
    lti = lti_store()
    course = lti.course(request.form.get("issuer", ""), request.form.get("context_id", ""))
    if not PostForm().validate_on_submit() or course is None:
        return _page(400, problems=["That course is unknown."])
    registration = lti.registration(course.issuer, course.client_id)
    if course.memberships_url is None or registration is None:
        return _page(409, problems=["The LMS offered no roster service (Names and Roles) for "
                                    "this course, or the platform is no longer registered."])
    connector = CachedConnector(registration, tool_keys().active(), lti)
    service = NamesRolesProvisioningService(connector, {
        "context_memberships_url": course.memberships_url})
    try:
        members: list[Any] = list(service.get_members())
    except (LtiException, requests.RequestException, ValueError) as exc:
        return _page(502, problems=[f"The LMS's roster service failed: {exc}"])
    lti.put_roster(course, [{k: m.get(k) for k in ("user_id", "name", "email", "roles",
                                                     "status")} for m in members])
    flash(f"Fetched {len(members)} members of {course.title}.", "success")
    return redirect(url_for("lti.setup"), code=303)
