"""Living inside the LMS's frame: cookies and headers for sessions that began with a launch.

A session started by a launch carries ``session["lti"]`` with the origins of its platform.
For such a session:

- the session cookie is ``SameSite=None; Secure; Partitioned`` (:class:`FramedSessionInterface`)
  so that the browser sends it inside the LMS's cross-site frame (a plain session keeps
  ``SameSite=Lax``);
- the pages' ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` become
  ``frame-ancestors 'self' <the platform's origins>`` (:func:`allow_platform_frames`), so
  registered platforms may frame the grader and nobody else may.

``Secure`` cookies need HTTPS, which LTI 1.3 requires of production deployments anyway;
browsers accept them from ``http://127.0.0.1`` and ``http://localhost`` for development.
"""

from __future__ import annotations

import re

from flask import Flask, Request, Response, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

SESSION_KEY = "lti"
_ARRIVED_FRAMED = "grader.lti.arrived_framed"
_FRAME_ANCESTORS = re.compile(r"frame-ancestors[^;]*")


def framed() -> bool:
    """Whether the current session began with an LTI launch, or did when the request came in
    (signing out clears it, and the cookie's deletion must name the same partition)."""
    return isinstance(session.get(SESSION_KEY), dict) or bool(
        request.environ.get(_ARRIVED_FRAMED))


def frame_origins() -> list[str]:
    """The origins allowed to frame the grader for the current session."""
    data = session.get(SESSION_KEY)
    origins = data.get("frame", []) if isinstance(data, dict) else []
    return [str(o) for o in origins if isinstance(o, str) and " " not in o and ";" not in o]


class FramedSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; cross-site-capable for sessions from a launch."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        opened = super().open_session(app, request)
        if opened is not None and isinstance(opened.get(SESSION_KEY), dict):
            request.environ[_ARRIVED_FRAMED] = True
        return opened

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if framed() else super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        return True if framed() else super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return True if framed() else super().get_cookie_partitioned(app)


def frame_ancestors(origins: list[str]) -> str:
    """The CSP directive allowing these origins (and this site) to frame a page."""
    return " ".join(["frame-ancestors", "'self'", *origins])


def allow_platform_frames(response: Response) -> Response:
    """For a session from a launch, let its platform frame the pages (runs after the pages'
    own security headers, which deny every frame)."""
    policy = response.headers.get("Content-Security-Policy")
    # The header first: the session is read only for pages (reading it adds "Vary: Cookie").
    if policy and "frame-ancestors" in policy and framed():
        response.headers["Content-Security-Policy"] = _FRAME_ANCESTORS.sub(
            frame_ancestors(frame_origins()), policy)
        response.headers.pop("X-Frame-Options", None)
    return response
