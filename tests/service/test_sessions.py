"""Page sessions: the cookie's attributes are set explicitly (SameSite=Lax, HttpOnly, 14 days),
the signing key is loaded when the app is created, and a session has a server-side id, so a
cookie captured before sign-out, or before a password change, no longer signs anyone in."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import pytest
from flask.testing import FlaskClient

from grader.accounts import AccountStore
from grader.app import create_app
from tests.service.conftest import Namespace

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def ns(namespace_factory: Callable[..., Namespace]) -> Namespace:
    namespace = namespace_factory()
    AccountStore(namespace.store).create("sam", PASSWORD, "learner")
    AccountStore(namespace.store).create("ida", PASSWORD, "instructor")
    return namespace


def csrf(client: FlaskClient, path: str = "/signin") -> str:
    page = client.get(path).get_data(as_text=True)
    found = (re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
             or re.search(r'name="csrf_token" value="([^"]+)"', page))
    assert found is not None
    return found.group(1)


def sign_in(client: FlaskClient, username: str) -> str:
    """Sign in; returns the Set-Cookie header of the new session."""
    response = client.post("/signin", data={"csrf_token": csrf(client), "username": username,
                                            "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Set-Cookie"]


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def signed_in(client: FlaskClient, path: str = "/") -> bool:
    response = client.get(path)
    return response.status_code == 200


def test_the_cookie_is_lax_http_only_and_lasts_fourteen_days(ns: Namespace) -> None:
    header = sign_in(ns.client, "sam")
    assert "SameSite=Lax" in header and "HttpOnly" in header
    expires = re.search(r"Expires=([^;]+)", header)
    assert expires is not None
    lasts = parsedate_to_datetime(expires.group(1)).timestamp() - time.time()
    assert 14 * 86400 - 60 < lasts <= 14 * 86400


def test_a_cookie_captured_before_sign_out_does_not_work_after_it(ns: Namespace) -> None:
    victim = ns.client
    captured = cookie_value(sign_in(victim, "sam"))
    assert signed_in(victim)
    assert victim.post("/signout", data={"csrf_token": csrf(victim, "/")}).status_code == 302
    assert not signed_in(victim)
    attacker = ns.app.test_client()
    attacker.set_cookie("session", captured)
    assert not signed_in(attacker)


def test_a_password_change_ends_every_session_of_the_account(ns: Namespace) -> None:
    first, second = ns.app.test_client(), ns.app.test_client()
    sign_in(first, "ida")
    sign_in(second, "ida")
    assert signed_in(first, "/instructor/") and signed_in(second, "/instructor/")
    AccountStore(ns.store).set_password("ida", PASSWORD)  # even to the same password
    assert not signed_in(first, "/instructor/") and not signed_in(second, "/instructor/")


def test_a_forged_cookie_without_a_live_session_id_is_not_signed_in(ns: Namespace) -> None:
    # What a reader of the session key could forge: the username and epoch, but no session id
    # that Redis knows.
    client = ns.app.test_client()
    with client.session_transaction() as session:
        session.update({"user": "ida", "epoch": 1, "sid": "made-up"})
    assert not signed_in(client, "/instructor/")
    with client.session_transaction() as session:
        session.pop("sid")
    assert not signed_in(client, "/instructor/")


def test_the_signing_key_is_loaded_when_the_app_is_created(ns: Namespace) -> None:
    app = create_app({"TESTING": True, "REDIS_URL": ns.redis_url, "KEY_PREFIX": ns.prefix})
    assert app.secret_key
