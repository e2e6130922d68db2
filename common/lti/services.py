"""Calls to a platform's LTI Advantage services (token, AGS, NRPS) through pylti1p3, with what
the library leaves out: timeouts on every HTTP call, no redirects, and an access-token cache in
Redis shared by every process (until shortly before the token expires), keyed by issuer, client
id and scopes (the library's key omits the client id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import requests
from pylti1p3.exception import LtiServiceException
from pylti1p3.registration import Registration as LibRegistration
from pylti1p3.service_connector import ServiceConnector, TServiceConnectorResponse

from common.lti.keys import ToolKey
from common.lti.models import Registration
from common.lti.store import LtiStore

USER_AGENT = "torch-grader-lti/1"
DEFAULT_TIMEOUT_S = 10.0
# A token is not used in its last seconds: it could expire on the way.
TOKEN_MARGIN_S = 30


class TimeoutSession(requests.Session):
    """A requests session whose calls all have a timeout and never follow redirects (a
    redirect could lead a bearer token to another host)."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def library_registration(registration: Registration, key: ToolKey) -> LibRegistration:
    """pylti1p3's view of a registration, signing with ``key``."""
    lib = (LibRegistration().set_issuer(registration.issuer)
           .set_client_id(registration.client_id)
           .set_auth_login_url(registration.auth_url)
           .set_auth_token_url(registration.token_url)
           .set_key_set_url(registration.jwks_url)
           .set_tool_private_key(key.private_pem)
           .set_tool_public_key(key.public_pem))
    if registration.audience:
        lib.set_auth_audience(registration.audience)
    return lib


class CachedConnector(ServiceConnector):
    """pylti1p3's service connector with the token cache in Redis and the tool's kid."""

    def __init__(self, registration: Registration, key: ToolKey, lti: LtiStore,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(library_registration(registration, key), TimeoutSession(timeout_s))
        self._ours = registration
        self._key = key
        self._lti = lti

    def _scope_key(self, scopes: Any) -> str:
        text = "\x1f".join([self._ours.issuer, self._ours.client_id, self._key.kid,
                            *sorted(scopes)])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        return self._lti.cached_token(scope_key)

    def _cache_access_token(self, scope_key: str, access_token: str,
                            expires_in: float) -> None:
        self._lti.cache_token(scope_key, access_token, int(float(expires_in)) - TOKEN_MARGIN_S)

    def make_service_request(self, scopes: Sequence[str], url: str, *,
                             is_post: bool = False, data: str | None = None,
                             content_type: str = "application/json",
                             accept: str = "application/json",
                             case_insensitive_headers: bool = False,
                             ) -> TServiceConnectorResponse:
        """As the library's, but a token the platform refuses (401: it restarted, or revoked
        it) is dropped from the cache and the call made once more with a fresh one."""
        try:
            return super().make_service_request(
                scopes, url, is_post=is_post, data=data, content_type=content_type,
                accept=accept, case_insensitive_headers=case_insensitive_headers)
        except LtiServiceException as exc:
            if exc.response.status_code != 401:
                raise
            self._lti.drop_token(self._scope_key(sorted(scopes)))
            return super().make_service_request(
                scopes, url, is_post=is_post, data=data, content_type=content_type,
                accept=accept, case_insensitive_headers=case_insensitive_headers)
