"""The LTI parts of the current app: stores, key ring, and the URLs an LMS is given."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

from common.lti.keys import ToolKeys
from common.lti.store import LtiStore
from grader.lti.states import LaunchRecords
from grader.storage import get_store


def lti_store() -> LtiStore:
    """Registrations, targets, courses... on the app's store."""
    return LtiStore(get_store())


def tool_keys() -> ToolKeys:
    """The tool's key ring."""
    return ToolKeys(get_store())


def records() -> LaunchRecords:
    """Login states, nonces and deep-linking sessions."""
    return LaunchRecords(get_store())


def base_url() -> str:
    """The grader's public URL: ``LTI_BASE_URL`` when configured (behind a proxy that does not
    pass the original host and scheme), else the request's."""
    configured = current_app.config.get("LTI_BASE_URL")
    return str(configured).rstrip("/") if configured else request.host_url.rstrip("/")


def external(endpoint: str, **values: Any) -> str:
    """An absolute URL of ``endpoint`` on :func:`base_url`."""
    return base_url() + url_for(endpoint, **values)


def launch_url() -> str:
    """The redirect (launch) URL registered with platforms; deep-linked items point here."""
    return external("lti.launch")
