"""pylti1p3 wired to the grader: registrations and keys from Redis, login state and nonces in
Redis (single use), cookies that work inside an LMS's frame, and timeouts on every outbound call.

What the library does not do, and this module (with :mod:`grader.lti.launch`) does:

- a nonce is consumed, not only checked for presence (:class:`RedisSessionService` answers
  "unused" and :meth:`LaunchRecords.consume` uses it atomically after every other check);
- the state is kept in Redis as well as in the cookie, and a launch restored by the library's
  "state already valid" shortcut is impossible (that shortcut let a replayed request in);
- every HTTP call has a timeout (:class:`~common.lti.services.TimeoutSession`);
- an issuer with several client ids is looked up by ``(issuer, client_id)``, never by issuer
  alone.
"""

from __future__ import annotations

from typing import Any

import requests
from flask import request
from pylti1p3.cookie import CookieService
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiKeyException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.registration import Registration as LibRegistration
from pylti1p3.registration import TKeySet
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from pylti1p3.tool_config.abstract import ToolConfAbstract
from werkzeug.wrappers import Response

from common.lti.keys import ToolKeys
from common.lti.services import TimeoutSession, library_registration
from common.lti.store import LtiStore
from grader.lti.states import LaunchRecords

COOKIE_PREFIX = "lti1p3"
JWKS_TTL_S = 300


class FormRequest(Request):
    """The current Flask request, as pylti1p3 reads it (form for POST, query for GET)."""

    @property
    def session(self) -> dict[str, Any]:
        # Never used: launch data is not kept in the Flask session (see RedisSessionService).
        return {}

    def is_secure(self) -> bool:
        return bool(request.is_secure)

    def get_param(self, key: str) -> str:
        source = request.form if request.method == "POST" else request.args
        return str(source.get(key, ""))


class CookieJar(CookieService):
    """The state cookie: ``Secure; SameSite=None; Partitioned`` so that the browser sends it
    back on the platform's cross-site POST to ``/lti/launch`` inside the LMS's frame."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, int | None]] = {}

    def get_cookie(self, name: str) -> str | None:
        return request.cookies.get(f"{COOKIE_PREFIX}-{name}")

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        self.pending[f"{COOKIE_PREFIX}-{name}"] = (str(value), exp)

    def apply(self, response: Response) -> Response:
        """Put the cookies set during the request on ``response``."""
        for key, (value, max_age) in self.pending.items():
            response.set_cookie(key, value, max_age=max_age, path="/lti/", secure=True,
                                httponly=True, samesite="None", partitioned=True)
        return response


class RedisSessionService(SessionService):
    """The library's session service with nonces and states in Redis (:class:`LaunchRecords`)
    instead of the Flask session; launch data is not kept (the grader stores what it needs)."""

    def __init__(self, records: LaunchRecords) -> None:
        super().__init__(FormRequest())
        self.records = records
        self.nonce: str | None = None
        self.state: str | None = None
        self.state_params: dict[str, object] = {}

    def save_nonce(self, nonce: str) -> None:
        self.nonce = nonce  # stored with its state by the login view, in one transaction

    def check_nonce(self, nonce: str) -> bool:
        return self.records.nonce_unused(nonce)

    def save_state_params(self, state: str, params: dict[str, object]) -> None:
        self.state, self.state_params = state, params

    def get_state_params(self, state: str) -> dict[str, object]:
        login = self.records.peek_login(state)
        return dict(login.params) if login else {}

    def set_state_valid(self, state: str, id_token_hash: str) -> None:
        return None

    def check_state_is_valid(self, state: str, id_token_hash: str) -> bool:
        return False  # never: the library would accept a replayed id_token without its cookie

    def save_launch_data(self, key: str, jwt_body: Any) -> None:
        return None

    def get_launch_data(self, key: str) -> Any:
        return None


class KeySets:
    """Platforms' key sets, kept in Redis for :data:`JWKS_TTL_S` (a launch would otherwise
    fetch the platform's JWKS every time); a launch whose kid the kept set lacks fetches it
    again (:func:`grader.lti.launch.verify_launch`), so a platform's key rotation is noticed."""

    def __init__(self, lti: LtiStore, timeout_s: float) -> None:
        self.lti = lti
        self.timeout_s = timeout_s
        self.from_cache: set[str] = set()

    def get(self, url: str) -> TKeySet:
        """The key set at ``url``; LtiKeyException when it cannot be had."""
        cached = self.lti.cached_jwks(url)
        if cached is not None:
            self.from_cache.add(url)
            return cached  # type: ignore[return-value]
        try:
            response = TimeoutSession(self.timeout_s).get(url)
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise LtiKeyException(f"the platform's JWKS at {url} could not be fetched: "
                                  f"{exc}") from None
        if not response.ok or not isinstance(data, dict) or not isinstance(
                data.get("keys"), list):
            raise LtiKeyException(f"the platform's JWKS at {url} is not a key set (HTTP "
                                  f"{response.status_code})")
        self.lti.cache_jwks(url, data, JWKS_TTL_S)
        return data  # type: ignore[return-value]

    def forget_cached(self) -> bool:
        """Drop the key sets that came from the cache; True if there were any."""
        for url in self.from_cache:
            self.lti.drop_jwks(url)
        had = bool(self.from_cache)
        self.from_cache.clear()
        return had


class ToolConf(ToolConfAbstract[FormRequest]):
    """Registrations from :class:`~common.lti.store.LtiStore`, signing with the active key,
    with the platforms' key sets from :class:`KeySets` when given."""

    def __init__(self, lti: LtiStore, keys: ToolKeys, key_sets: KeySets | None = None) -> None:
        self.lti = lti
        self.keys = keys
        self.key_sets = key_sets

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _lib(self, issuer: str, client_id: str | None) -> LibRegistration | None:
        found = self.lti.registration(issuer, client_id)
        if found is None:
            return None
        lib = library_registration(found, self.keys.active())
        if self.key_sets is not None:
            lib.set_key_set(self.key_sets.get(found.jwks_url))
        return lib

    def find_registration_by_issuer(self, iss: str, *args: Any,
                                    **kwargs: Any) -> LibRegistration:
        return self._lib(iss, None)  # type: ignore[return-value]  # None: "not found"

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any,
                                    **kwargs: Any) -> LibRegistration:
        return self._lib(iss, client_id)  # type: ignore[return-value]

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, "")

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str,
                                  *args: Any, **kwargs: Any) -> Deployment | None:
        found = self.lti.registration(iss, client_id or None)
        if found is None or deployment_id not in found.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)


class UrlRedirect(Redirect[str]):
    """The library's redirect, reduced to its URL (the view builds the response)."""

    def __init__(self, location: str) -> None:
        self.location = location

    def do_redirect(self) -> str:
        return self.location

    def do_js_redirect(self) -> str:
        return self.location

    def set_redirect_url(self, location: str) -> None:
        self.location = location

    def get_redirect_url(self) -> str:
        return self.location


class Login(OIDCLogin[FormRequest, ToolConf, RedisSessionService, CookieJar, str]):
    """The OIDC login step (third-party initiated)."""

    def get_redirect(self, url: str) -> Redirect[str]:
        return UrlRedirect(url)


class Launch(MessageLaunch[FormRequest, ToolConf, RedisSessionService, CookieJar]):
    """The signed ``id_token`` POST."""

    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)
