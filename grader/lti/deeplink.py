"""Deep Linking 2.0: an instructor in the LMS picks exercises from the catalogue, and the LMS
receives signed ``ltiResourceLink`` content items, each with a line item whose
``scoreMaximum`` is the exercise's points and a custom parameter ``exercise=<slug>`` that the
launch reads back (and checks against the catalogue).
"""

from __future__ import annotations

import re
from typing import Any

from flask import render_template, request
from pylti1p3.deep_link import DeepLink, TDeepLinkData
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from werkzeug.wrappers import Response

from common.lti.services import library_registration
from common.records import ExerciseInfo
from grader.catalogue import get_catalogue
from grader.lti.arrival import sign_in_from
from grader.lti.blueprint import bp, refuse
from grader.lti.context import launch_url, lti_store, records, tool_keys
from grader.lti.launch import LaunchRefused, VerifiedLaunch
from grader.lti.states import DeepLinkSession
from grader.pages.session import current_account

SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
_MARKUP = re.compile(r"[`*_#>\[\]$]|\(http[^)]*\)")


def summary(statement: str, limit: int = 240) -> str:
    """A short plain-text description: the statement's first paragraph, markup removed."""
    for paragraph in statement.split("\n\n"):
        text = " ".join(_MARKUP.sub("", paragraph).split())
        if text and not paragraph.lstrip().startswith("#"):
            return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
    return ""


class ExerciseLink(DeepLinkResource):
    """An ``ltiResourceLink`` with a description (``text``), which pylti1p3's lacks."""

    def __init__(self, info: ExerciseInfo, url: str) -> None:
        self.text = summary(info.statement)
        self.set_url(url).set_title(info.title).set_custom_params({"exercise": info.slug})
        self.set_lineitem(LineItem().set_score_maximum(info.points).set_label(info.title)
                          .set_resource_id(info.slug).set_tag(f"grader:{info.slug}"))

    def to_dict(self) -> dict[str, object]:
        item = super().to_dict()
        if self.text:
            item["text"] = self.text
        return item


def start(verified: VerifiedLaunch) -> tuple[str, int]:
    """A deep-linking request: sign the instructor in and show the picker."""
    settings = verified.claim(SETTINGS_CLAIM)
    if not verified.is_instructor:
        raise LaunchRefused(403, "only instructors may add exercises (deep linking); the "
                                 f"launch's roles are {verified.roles}")
    if not isinstance(settings.get("deep_link_return_url"), str):
        raise LaunchRefused(400, "the deep-linking request has no deep_link_return_url")
    if not records().consume(verified.state, verified.nonce):
        raise LaunchRefused(400, "this launch's state or nonce was used already (a replayed "
                                 "launch); launch again from the LMS")
    account = sign_in_from(verified)
    registration = verified.registration
    dl_id = records().open_deep_link(DeepLinkSession(
        issuer=registration.issuer, client_id=registration.client_id,
        deployment_id=verified.deployment_id, settings=settings, username=account.username))
    return _picker(dl_id, settings), 200


def _picker(dl_id: str, settings: dict[str, Any], problem: str | None = None,
            chosen: list[str] | None = None) -> str:
    exercises = [(info, summary(info.statement)) for info in get_catalogue().all()]
    return render_template("lti/picker.html", dl_id=dl_id, exercises=exercises,
                           multiple=settings.get("accept_multiple", True) not in (False, "false"),
                           title=settings.get("title") or "", problem=problem,
                           chosen=set(chosen or []))


@bp.post("/deep-link/<dl_id>")
def deep_link_choose(dl_id: str) -> Response | tuple[str, int]:
    """The picker's choice: answer the platform with the signed content items."""
    waiting = records().deep_link(dl_id)
    if waiting is None:
        return refuse(404, "this exercise picker has expired or was used; open it again from "
                           "the LMS", "Picker expired")
    account = current_account()
    if account is None or account.username != waiting.username:
        return refuse(403, "this exercise picker belongs to another session; open it again "
                           "from the LMS", "Not your picker")
    slugs = request.form.getlist("exercise")
    infos = [get_catalogue().get(s) for s in slugs]
    multiple = waiting.settings.get("accept_multiple", True) not in (False, "false")
    problem = None
    if not slugs:
        problem = "Choose at least one exercise."
    elif any(i is None for i in infos):
        problem = "An exercise you chose no longer exists; choose again."
    elif len(slugs) > 1 and not multiple:
        problem = "The LMS accepts one exercise per link here; choose one."
    if problem is not None:
        return _picker(dl_id, waiting.settings, problem, slugs), 400
    if records().close_deep_link(dl_id) is None:
        return refuse(409, "this exercise picker was used already", "Picker used")
    registration = lti_store().registration(waiting.issuer, waiting.client_id)
    if registration is None:
        return refuse(400, f"the platform {waiting.issuer} is no longer registered")
    settings: TDeepLinkData = waiting.settings  # type: ignore[assignment]
    deep_link = DeepLink(library_registration(registration, tool_keys().active()),
                         waiting.deployment_id, settings)
    url = launch_url()
    token = deep_link.get_response_jwt([ExerciseLink(i, url) for i in infos if i is not None])
    return render_template("lti/autopost.html", action=settings["deep_link_return_url"],
                           fields={"JWT": token}, count=len(slugs)), 200
