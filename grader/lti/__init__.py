"""LTI 1.3 Advantage for the web: launches from an LMS, deep linking, and the setup page.

Endpoints (blueprint ``lti``, see docs/lti.md): ``/lti/jwks.json``, ``/lti/login``,
``/lti/launch``, ``/lti/deep-link/<id>`` (the picker's answer) and ``/lti/setup`` (instructors:
the URLs to paste into the LMS, registrations, keys, score passback, courses). Scores are posted
by the workers (:mod:`common.lti.passback`); the data both sides share is in :mod:`common.lti`.
"""

from __future__ import annotations

from flask import Flask, Response, request

from grader.lti import admin, deeplink, dynamic, views
from grader.lti.blueprint import bp
from grader.lti.context import lti_store
from grader.lti.framing import FramedSessionInterface, allow_platform_frames, frame_ancestors

__all__ = ["admin", "deeplink", "dynamic", "init_app", "views"]

# The LTI pages: no inline script, and only registered platforms may frame them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
)


def _lti_headers(response: Response) -> Response:
    if request.blueprint != "lti":
        return allow_platform_frames(response)
    if request.endpoint == "lti.dynamic_register":
        # The LMS that is registering is not registered yet; the one-time link protects it.
        ancestors = "frame-ancestors *"
    else:
        ancestors = frame_ancestors(sorted({
            o for r in lti_store().registrations() for o in r.allowed_frame_origins()}))
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY + ancestors)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Register the LTI blueprint, the frame-friendly sessions and headers.

    Call it before :func:`grader.pages.init_app`: Flask runs ``after_request`` functions in
    reverse order, so :func:`allow_platform_frames` then sees the pages' headers and relaxes
    them for sessions that came from a launch."""
    from grader.pages import csrf

    app.config.setdefault("LTI_HTTP_TIMEOUT_S", 10.0)
    app.config.setdefault("LTI_BASE_URL", None)
    app.config.setdefault("LTI_LOGIN_RATE_LIMIT", "120 per minute")
    app.session_interface = FramedSessionInterface()
    # The platform's cross-site form posts carry a signed id_token, not our CSRF token.
    csrf.exempt(views.login)
    csrf.exempt(views.launch)
    app.after_request(_lti_headers)
    app.register_blueprint(bp)
