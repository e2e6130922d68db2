"""A test LMS: the independent LTI 1.3 platform implementation ``lti1p3platform`` (written by
others), served over real HTTP on 127.0.0.1, made strict where the library is lenient.

The library builds the launch messages (:class:`LTIAdvantageMessageLaunchAbstract`), the OIDC
preflight URL, signs the id_tokens, validates the tool's client assertions and deep-linking
answers against the tool's JWKS, and issues and validates access tokens. On top of it, this
platform refuses what the library would let through (each check named ``strict:``):

- the authorization endpoint posts the id_token only to the registered redirect URI, and only
  for ``scope=openid``, ``response_type=id_token``, ``response_mode=form_post``,
  ``prompt=none``, the registered client id and a known user;
- the token endpoint checks the assertion's ``iss``/``sub`` (the client id), ``aud`` (the token
  URL), ``exp``, ``iat`` and a single-use ``jti``, and grants only the scopes this tool has;
- the score endpoint requires a token that carries the *score* scope (the library accepts any
  AGS scope), the score media type, a known user, valid progress values, and a timestamp newer
  than the last one accepted;
- the roster endpoint requires the NRPS scope;
- a deep-linking answer must be signed by a key in the tool's JWKS (fetched every time, so a
  rotated key is noticed), addressed to this issuer, for this deployment, with our ``data``
  echoed, and its items must be ``ltiResourceLink`` items on the tool's own origin.
"""

from __future__ import annotations

import html
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
from flask import Flask, Response, jsonify, request
from jwcrypto.jwk import JWK
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from werkzeug.serving import BaseWSGIServer, make_server

ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER = ROLE + "Learner"
INSTRUCTOR = ROLE + "Instructor"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
GRANTED_SCOPES = {SCORE_SCOPE, LINEITEM_SCOPE, RESULT_SCOPE, NRPS_SCOPE}
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


def _key_pair() -> tuple[str, str]:
    key = JWK.generate(kty="RSA", size=2048)
    return (key.export_to_pem(private_key=True, password=None).decode(),
            key.export_to_pem().decode())


@dataclass
class User:
    sub: str
    name: str
    roles: list[str]
    email: str = ""


@dataclass
class ResourceLink:
    id: str
    title: str
    url: str
    custom: dict[str, str]
    lineitem: str | None


@dataclass
class Score:
    user_id: str
    given: float | None
    maximum: float | None
    activity: str
    grading: str
    timestamp: datetime
    raw: dict[str, Any]


class PlatformConf(LTI1P3PlatformConfAbstract):
    """The library's platform configuration over one registration."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration  # type: ignore[no-any-return]

    def fresh_tool_keys(self) -> None:
        """Forget the tool's key set, so the next check fetches it again (key rotation)."""
        self._registration.set_tool_key_set(None)


class Preflight(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class Launch(LTIAdvantageMessageLaunchAbstract):
    """A launch built from the authorization request's parameters."""

    def __init__(self, params: dict[str, str], conf: PlatformConf) -> None:
        self._params = params
        super().__init__(None, conf)  # type: ignore[arg-type]

    def get_preflight_response(self) -> dict[str, Any]:
        return self._params

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


@dataclass
class Lms:
    """The LMS: users, a course, resource links, line items and the scores it received."""

    tool_base: str
    host: str = "127.0.0.1"
    browser_host: str | None = None
    client_id: str = "grader-tool"
    deployment_id: str = "deployment-1"
    context_id: str = "course-101"
    context_title: str = "Intro to PyTorch"
    users: dict[str, User] = field(default_factory=dict)
    links: dict[str, ResourceLink] = field(default_factory=dict)
    lineitems: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, list[Score]] = field(default_factory=dict)
    token_requests: int = 0
    ags_down: bool = False
    dl_data: str = field(default_factory=lambda: uuid.uuid4().hex)
    used_jti: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    nrps_calls: int = 0
    jwks_fetches: int = 0
    registration_token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.private_pem, self.public_pem = _key_pair()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self.lock = threading.Lock()
        self.app = self._make_app()

    # --- addresses ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """Where the grader's server-side calls reach the platform."""
        return f"http://{self.host}:{self.port}"

    @property
    def browser_url(self) -> str:
        """Where a browser reaches the platform (another site than the grader's, if set)."""
        return f"http://{self.browser_host or self.host}:{self.port}"

    @property
    def issuer(self) -> str:
        return self.browser_url

    @property
    def launch_url(self) -> str:
        return self.tool_base + "/lti/launch"

    def registration_args(self) -> list[str]:
        """The arguments of ``grader lti register`` for this platform."""
        return ["--issuer", self.issuer, "--client-id", self.client_id, "--deployment-id",
                self.deployment_id, "--auth-url", self.browser_url + "/auth", "--token-url",
                self.url + "/token", "--jwks-url", self.url + "/jwks", "--name", "Test LMS",
                "--frame-origin", self.browser_url]

    def conf(self) -> PlatformConf:
        registration = (Registration().set_iss(self.issuer).set_client_id(self.client_id)
                        .set_deployment_id(self.deployment_id)
                        .set_launch_url(self.launch_url)
                        .set_deeplink_launch_url(self.launch_url)
                        .set_oidc_login_url(self.tool_base + "/lti/login")
                        .set_tool_key_set_url(self.tool_base + "/lti/jwks.json")
                        .set_platform_public_key(self.public_pem)
                        .set_platform_private_key(self.private_pem))
        conf = PlatformConf(registration=registration)
        conf.fresh_tool_keys()
        return conf

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Lms:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def add_user(self, sub: str, name: str, *roles: str) -> User:
        self.users[sub] = User(sub, name, list(roles), f"{sub}@example.edu")
        return self.users[sub]

    def start_url(self, user: str, link: str | None = None, *, deep_link: bool = False) -> str:
        """The URL that begins a launch (the LMS's own page links to it)."""
        hint = "deep-link" if deep_link else f"link:{link}"
        return f"{self.browser_url}/start?user={user}&hint={hint}"

    def refuse(self, status: int, why: str) -> Response:
        self.refused.append(why)
        response = jsonify({"error": why})
        response.status_code = status
        return response

    def latest_score(self, lineitem: str, user: str) -> Score | None:
        return next((s for s in reversed(self.scores.get(lineitem, [])) if s.user_id == user),
                    None)

    # --- the web app --------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask("test-platform")

        @app.get("/jwks")
        def jwks() -> Response:
            self.jwks_fetches += 1
            return jsonify(self.conf().get_jwks())

        @app.get("/start")
        def start() -> Response:
            user, hint = request.args["user"], request.args["hint"]
            preflight = Preflight(request, self.conf())
            preflight.set_lti_message_hint(hint=hint)
            response = Response(status=302)
            response.headers["Location"] = preflight.initiate_login(user)
            return response

        @app.get("/course")
        def course() -> str:
            # The LMS's course page: the tool inside an iframe.
            src = html.escape(self.start_url(request.args["user"], request.args.get("link")))
            return (f"<!doctype html><title>Course</title><h1>{self.context_title}</h1>"
                    f'<iframe id="tool" src="{src}" width="1200" height="900" '
                    'allow="clipboard-write"></iframe>')

        @app.get("/auth")
        def auth() -> Response | str:
            return self._authorize()

        @app.post("/token")
        def token() -> Response:
            return self._token()

        @app.post("/lineitems/<item>/scores")
        def scores(item: str) -> Response:
            return self._score(item)

        @app.get("/lineitems")
        def lineitems() -> Response:
            if not (self._bearer(LINEITEM_SCOPE)):
                return self.refuse(401, "strict: listing line items needs the lineitem scope")
            response = jsonify(list(self.lineitems.values()))
            response.mimetype = "application/vnd.ims.lis.v2.lineitemcontainer+json"
            return response

        @app.post("/lineitems")
        def create_lineitem() -> Response:
            if not self._bearer(LINEITEM_SCOPE):
                return self.refuse(401, "strict: making line items needs the lineitem scope")
            if request.mimetype != "application/vnd.ims.lis.v2.lineitem+json":
                return self.refuse(415, "strict: a line item is "
                                        "application/vnd.ims.lis.v2.lineitem+json")
            body = json.loads(request.get_data(as_text=True))
            if not isinstance(body.get("scoreMaximum"), int | float) or body[
                    "scoreMaximum"] <= 0 or not body.get("label"):
                return self.refuse(400, "strict: a line item needs a label and scoreMaximum")
            if body.get("resourceLinkId") and body["resourceLinkId"] not in self.links:
                return self.refuse(400, "strict: unknown resourceLinkId")
            with self.lock:
                url = self.url + f"/lineitems/{next(self._ids)}"
                self.lineitems[url] = {**body, "id": url}
            response = jsonify(self.lineitems[url])
            response.status_code = 201
            return response

        @app.get("/lineitems/<item>")
        def lineitem(item: str) -> Response:
            if not self._bearer(LINEITEM_SCOPE):
                return self.refuse(401, "strict: lineitem read needs a lineitem-scoped token")
            found = self.lineitems.get(self.url + f"/lineitems/{item}")
            return jsonify(found) if found else self.refuse(404, "no such line item")

        @app.get("/nrps")
        def nrps() -> Response:
            if not self._bearer(NRPS_SCOPE):
                return self.refuse(401, "strict: the roster needs an NRPS-scoped token")
            self.nrps_calls += 1
            members = [{"user_id": u.sub, "name": u.name, "email": u.email, "roles": u.roles,
                        "status": "Active"} for u in self.users.values()]
            return jsonify({"id": self.url + "/nrps", "context": {
                "id": self.context_id, "title": self.context_title}, "members": members})

        @app.post("/deep-link-return")
        def deep_link_return() -> Response:
            return self._deep_link_return()

        @app.get("/.well-known/openid-configuration")
        def openid_configuration() -> Response:
            return jsonify({
                "issuer": self.issuer, "authorization_endpoint": self.browser_url + "/auth",
                "token_endpoint": self.url + "/token", "jwks_uri": self.url + "/jwks",
                "registration_endpoint": self.url + "/register",
                "scopes_supported": sorted(GRANTED_SCOPES | {"openid"}),
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "test-lms", "version": "1",
                    "messages_supported": [{"type": "LtiResourceLinkRequest"},
                                           {"type": "LtiDeepLinkingRequest"}]}})

        @app.post("/register")
        def register() -> Response:
            return self._register()

        return app

    # --- OIDC authorization: strict about the redirect URI ------------------------------------

    def _authorize(self) -> Response | str:
        params = {k: v for k, v in request.args.items()}
        checks = [
            (params.get("scope") == "openid", "strict: scope must be openid"),
            (params.get("response_type") == "id_token", "strict: response_type id_token"),
            (params.get("response_mode") == "form_post", "strict: response_mode form_post"),
            (params.get("prompt") == "none", "strict: prompt none"),
            (params.get("client_id") == self.client_id, "strict: unknown client_id"),
            (params.get("redirect_uri") == self.launch_url,
             "strict: redirect_uri is not the registered launch URL"),
            (params.get("login_hint") in self.users, "strict: unknown login_hint"),
            (bool(params.get("nonce")) and bool(params.get("state")), "nonce and state"),
        ]
        for ok, why in checks:
            if not ok:
                return self.refuse(400, why)
        user = self.users[params["login_hint"]]
        launch = Launch(params, self.conf())
        launch.set_user_data(user.sub, user.roles, user.name, user.email)
        launch.set_launch_context_claim(self.context_id, context_title=self.context_title)
        launch.set_nrps(self.url + "/nrps")
        hint = params.get("lti_message_hint", "")
        if hint == "deep-link":
            launch.set_dl(self.url + "/deep-link-return", title=self.context_title,
                          accept_types={"ltiResourceLink"},
                          extra_data=self.dl_data)  # type: ignore[arg-type]
        else:
            link = self.links.get(hint.removeprefix("link:"))
            if link is None:
                return self.refuse(400, f"no resource link {hint!r}")
            launch.set_resource_link_claim(link.id, title=link.title)
            launch.set_custom_parameters_claim(link.custom)
            launch.set_ags(self.url + "/lineitems", link.lineitem, allow_creating_lineitems=True)
        data = launch.lti_launch()
        fields = "".join(f'<input type="hidden" name="{k}" value="{html.escape(str(v))}">'
                         for k, v in (("id_token", data["id_token"]), ("state", data["state"])))
        return (f'<!doctype html><title>Launching</title><form id="f" method="post" '
                f'action="{html.escape(data["launch_url"])}">{fields}'
                '<button type="submit">Continue</button></form>'
                '<script>document.getElementById("f").submit()</script>')

    # --- tokens: strict about the assertion and the scopes ------------------------------------

    def _token(self) -> Response:
        form = request.form.to_dict()
        conf = self.conf()
        try:
            conf.tool_validate_and_decode(form.get("client_assertion", ""))
            claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
        except Exception as exc:  # the library's own refusal, whatever its type
            return self.refuse(401, f"assertion refused: {exc}")
        now = time.time()
        checks = [
            (form.get("grant_type") == "client_credentials", "grant_type"),
            (form.get("client_assertion_type")
             == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "assertion type"),
            (claims.get("iss") == self.client_id == claims.get("sub"),
             "strict: assertion iss/sub must be the client id"),
            (self.url + "/token" in (claims.get("aud") if isinstance(claims.get("aud"), list)
                                      else [claims.get("aud")]),
             "strict: assertion aud must be the token URL"),
            (isinstance(claims.get("exp"), int) and claims["exp"] > now, "strict: exp"),
            (isinstance(claims.get("iat"), int) and claims["iat"] <= now + 60, "strict: iat"),
            (bool(claims.get("jti")) and claims.get("jti") not in self.used_jti,
             "strict: jti missing or reused"),
        ]
        for ok, why in checks:
            if not ok:
                return self.refuse(401, why)
        requested = set(form.get("scope", "").split())
        if not requested or not requested <= GRANTED_SCOPES:
            return self.refuse(400, f"strict: scopes {sorted(requested - GRANTED_SCOPES)} are "
                                    "not granted to this tool")
        with self.lock:
            self.used_jti.add(str(claims["jti"]))
            self.token_requests += 1
        return jsonify(conf.get_access_token(form))

    def _bearer(self, scope: str) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        conf = self.conf()
        try:
            if not conf.validate_token(token, [scope]):
                return False
            claims = jwt.decode(token, self.public_pem, algorithms=["RS256"])
        except Exception:
            return False
        # strict: the library accepts any listed scope; this endpoint needs its own.
        return scope in str(claims.get("scopes", "")).split()

    # --- scores --------------------------------------------------------------------------------

    def _score(self, item: str) -> Response:
        if self.ags_down:
            return self.refuse(503, "the LMS is down for maintenance")
        lineitem = self.url + f"/lineitems/{item}"
        if not self._bearer(SCORE_SCOPE):
            return self.refuse(401, "strict: scores need a token with the score scope")
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            return self.refuse(415, "strict: scores are application/vnd.ims.lis.v1.score+json")
        if lineitem not in self.lineitems:
            return self.refuse(404, "no such line item")
        body = json.loads(request.get_data(as_text=True))
        try:
            stamp = datetime.fromisoformat(body["timestamp"])
        except (KeyError, ValueError):
            return self.refuse(400, "strict: timestamp must be ISO 8601")
        if stamp.tzinfo is None:
            return self.refuse(400, "strict: timestamp needs a time zone")
        checks = [
            (body.get("userId") in self.users, "strict: unknown userId"),
            (body.get("activityProgress") in ACTIVITY, "strict: activityProgress"),
            (body.get("gradingProgress") in GRADING, "strict: gradingProgress"),
            (body.get("gradingProgress") != "FullyGraded" or (
                isinstance(body.get("scoreGiven"), int | float)
                and isinstance(body.get("scoreMaximum"), int | float)
                and body["scoreMaximum"] > 0),
             "strict: a FullyGraded score needs scoreGiven and scoreMaximum"),
        ]
        for ok, why in checks:
            if not ok:
                return self.refuse(400, why)
        with self.lock:
            last = self.latest_score(lineitem, body["userId"])
            if last is not None and stamp <= last.timestamp:
                return self.refuse(409, "strict: a score older than the last one accepted")
            self.scores.setdefault(lineitem, []).append(Score(
                body["userId"], body.get("scoreGiven"), body.get("scoreMaximum"),
                body["activityProgress"], body["gradingProgress"], stamp, body))
        return Response(status=200)

    # --- dynamic registration: strict about the token and the tool's configuration ----------

    def _register(self) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.registration_token}":
            return self.refuse(401, "strict: the registration token is missing or wrong")
        body = request.get_json(silent=True) or {}
        tool = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
        messages = {m.get("type") for m in tool.get("messages", [])}
        checks = [
            (body.get("application_type") == "web", "strict: application_type web"),
            ("id_token" in body.get("response_types", []), "strict: response_types"),
            ({"implicit", "client_credentials"} <= set(body.get("grant_types", [])),
             "strict: grant_types"),
            (body.get("token_endpoint_auth_method") == "private_key_jwt",
             "strict: token_endpoint_auth_method"),
            (body.get("initiate_login_uri") == self.tool_base + "/lti/login",
             "strict: initiate_login_uri"),
            (self.launch_url in body.get("redirect_uris", []), "strict: redirect_uris"),
            (body.get("jwks_uri") == self.tool_base + "/lti/jwks.json", "strict: jwks_uri"),
            (set(str(body.get("scope", "")).split()) <= GRANTED_SCOPES, "strict: scopes"),
            (tool.get("target_link_uri") == self.launch_url, "strict: target_link_uri"),
            ("LtiDeepLinkingRequest" in messages, "strict: deep linking message"),
        ]
        for ok, why in checks:
            if not ok:
                return self.refuse(400, why)
        self.client_id = "dyn-" + uuid.uuid4().hex[:8]
        self.deployment_id = "dyn-deployment"
        self.registration_token = ""  # single use
        return jsonify({**body, "client_id": self.client_id,
                        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                            **tool, "deployment_id": self.deployment_id}})

    # --- deep linking --------------------------------------------------------------------------

    def _deep_link_return(self) -> Response:
        conf = self.conf()
        token = request.form.get("JWT", "")
        try:
            items = conf.validate_deeplinking_resp({"JWT": token})
            claims = jwt.decode(token, options={"verify_signature": False})
        except Exception as exc:
            return self.refuse(401, f"deep-linking answer refused: {exc}")
        aud = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        dl = "https://purl.imsglobal.org/spec/lti-dl/claim/"
        checks = [
            (claims.get("iss") == self.client_id, "strict: iss must be the client id"),
            (self.issuer in aud, "strict: aud must be the platform's issuer"),
            (isinstance(claims.get("exp"), int) and claims["exp"] > time.time(), "strict: exp"),
            (bool(claims.get("nonce")), "strict: nonce"),
            (claims.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id")
             == self.deployment_id, "strict: deployment_id"),
            (claims.get("https://purl.imsglobal.org/spec/lti/claim/version") == "1.3.0",
             "strict: version"),
            (claims.get(dl + "data") == self.dl_data, "strict: data must be echoed"),
        ]
        for item in items:
            checks.append((item.get("type") == "ltiResourceLink", "strict: item type"))
            checks.append((urlsplit(str(item.get("url"))).netloc == urlsplit(
                self.tool_base).netloc, "strict: item url must be on the tool"))
            checks.append((isinstance(item.get("lineItem", {}).get("scoreMaximum"),
                                      int | float), "strict: lineItem.scoreMaximum"))
        for ok, why in checks:
            if not ok:
                return self.refuse(400, why)
        created = []
        for item in items:
            n = next(self._ids)
            lineitem_url = self.url + f"/lineitems/{n}"
            link = ResourceLink(f"rl-{n}", item.get("title") or "", item["url"],
                                dict(item.get("custom") or {}), lineitem_url)
            self.lineitems[lineitem_url] = {
                "id": lineitem_url, "resourceLinkId": link.id, **item["lineItem"]}
            self.links[link.id] = link
            created.append({"link": link.id, "title": link.title, "text": item.get("text"),
                            "lineItem": self.lineitems[lineitem_url]})
        return jsonify({"created": created})
