"""What a verified launch leaves behind: the signed-in account and the course it came from."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import session

from common.lti.models import Course
from grader.accounts import Account
from grader.lti.context import lti_store
from grader.lti.framing import SESSION_KEY
from grader.lti.identity import link_account
from grader.lti.launch import VerifiedLaunch
from grader.pages.session import get_accounts, sign_in

NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


def sign_in_from(verified: VerifiedLaunch) -> Account:
    """Sign in the account linked to the launch's user, in a session that may live in the
    platform's frame (:mod:`grader.lti.framing`)."""
    registration = verified.registration
    account = link_account(get_accounts(), lti_store(), registration.issuer, verified.sub,
                           verified.claims, verified.is_instructor)
    sign_in(account)
    session[SESSION_KEY] = {"iss": registration.issuer,
                            "frame": registration.allowed_frame_origins()}
    return account


def remember_course(verified: VerifiedLaunch) -> Course | None:
    """Record the launch's course (context) and its roster URL; None without a context."""
    context = verified.claim("context")
    context_id = context.get("id")
    if not isinstance(context_id, str) or not context_id:
        return None
    memberships = verified.claim(NRPS_CLAIM).get("context_memberships_url")
    title = context.get("title") or context.get("label") or context_id
    return lti_store().put_course(Course(
        issuer=verified.registration.issuer, client_id=verified.registration.client_id,
        context_id=context_id, title=str(title)[:200],
        memberships_url=memberships if isinstance(memberships, str) and urlsplit(
            memberships).scheme in ("http", "https") else None))
