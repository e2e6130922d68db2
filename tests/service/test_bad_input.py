"""Hostile or broken input gets a clear 4xx and changes nothing; Redis down gets 503 with
``Retry-After``. Never a 500."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from common.records import LEARNER_PATTERN, ExerciseBundle
from grader.app import create_app
from grader.pages.bundles import BundleError, from_zip
from grader.pages.session import safe_next
from grader.processes import free_port
from grader.statistics import Statistics
from tests.service.conftest import CORRECT, Namespace


@pytest.fixture(scope="module")
def ns(namespace_factory: Callable[..., Namespace]) -> Namespace:
    """A namespace without workers: nothing here needs grading."""
    return namespace_factory()


def post_raw(ns: Namespace, body: bytes, who: str = "lms") -> tuple[int, dict[str, object]]:
    response = ns.client.post("/api/v1/submissions", data=body,
                              headers={**ns.headers(who), "Content-Type": "application/json"})
    return response.status_code, response.get_json()


def nothing_queued(ns: Namespace) -> bool:
    return Statistics(ns.store).counts()["queued"] == 0 and ns.store.queue_depth("cpu") == 0


def test_json_nested_ten_thousand_deep_is_400(ns: Namespace) -> None:
    status, body = post_raw(ns, b"[" * 10_000 + b"]" * 10_000)
    assert status == 400, body
    status, body = post_raw(ns, b'{"exercise": "add-one", "code": ' + b"[" * 10_000
                            + b"]" * 10_000 + b', "learner": "ann"}')
    assert status == 400, body
    assert nothing_queued(ns)


@pytest.mark.parametrize("field", ["code", "learner", "exercise", "callback_url"])
def test_a_lone_surrogate_anywhere_is_400(ns: Namespace, field: str) -> None:
    values = {"exercise": '"add-one"', "code": '"def add_one(x): return x"', "learner": '"ann"'}
    values[field] = '"x\\ud800y"'
    body = ("{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}").encode()
    status, answer = post_raw(ns, body)
    assert status == 400, answer
    assert "surrogate" in str(answer)
    assert nothing_queued(ns)


@pytest.mark.parametrize("submission_id", ["abc:def", "x" * 32 + ":source", "*", "..",
                                           "0" * 31 + "G"])
def test_submission_ids_outside_the_id_alphabet_are_404(ns: Namespace,
                                                        submission_id: str) -> None:
    response = ns.client.get(f"/api/v1/submissions/{submission_id}", headers=ns.headers())
    assert response.status_code == 404


@pytest.mark.parametrize("learner", ["ann:submissions", "a*", "ann%0A", "-ann"])
def test_learner_ids_outside_the_id_alphabet_are_404(ns: Namespace, learner: str) -> None:
    response = ns.client.get(f"/api/v1/learners/{learner}/submissions", headers=ns.headers())
    assert response.status_code == 404, response.get_json()


def test_learner_ids_with_a_trailing_newline_do_not_match() -> None:
    assert LEARNER_PATTERN.fullmatch("ann") and not LEARNER_PATTERN.fullmatch("ann\n")
    # WTForms' Regexp validator uses re.match with the pattern's text.
    assert re.match(LEARNER_PATTERN.pattern, "ann\n") is None


@pytest.mark.parametrize("slug", ["bad%00slug", "a" * 300, "Bad_Slug", "x--y"])
def test_unsafe_slugs_on_put_are_422_before_anything_is_written(
    ns: Namespace, slug: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def written(*args: object) -> None:
        raise AssertionError("the bundle was written before its slug was checked")

    monkeypatch.setattr(ExerciseBundle, "write_course", written)
    files = {"exercise.yaml": "slug: x\n", "statement.md": "s", "starter.py": ""}
    response = ns.client.put(f"/api/v1/exercises/{slug}", headers=ns.headers(),
                             json={"files": files, "reference": "x = 1\n"})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_slug"


def test_multipart_without_exercise_is_422(ns: Namespace) -> None:
    response = ns.client.post(
        "/api/v1/submissions", headers=ns.headers("lms"),
        data={"learner": "ann", "file": (io.BytesIO(CORRECT.encode()), "solution.py")},
        content_type="multipart/form-data")
    assert response.status_code == 422, response.get_json()
    assert "exercise" in response.get_json()["error"]["message"]
    response = ns.client.post("/api/v1/submissions", headers=ns.headers("lms"),
                              data={"learner": "ann"}, content_type="multipart/form-data")
    assert response.status_code == 422, response.get_json()
    assert nothing_queued(ns)


def _zip_with_bad_crc() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("ex/exercise.yaml", "slug: ex\n")
        archive.writestr("ex/reference.py", "x = 1\n")
    data = bytearray(buffer.getvalue())
    at = data.index(b"slug: ex")
    data[at] = ord("S")  # content changed, CRC kept
    return bytes(data)


def test_a_zip_entry_with_a_bad_crc_is_a_bundle_error() -> None:
    with pytest.raises(BundleError, match="cannot be read"):
        from_zip(_zip_with_bad_crc())


@pytest.mark.parametrize("target", ["/exercises\r\nSet-Cookie: x=1", "/a\nb", "/a\x00",
                                    "/a\x7f"])
def test_next_with_control_characters_is_not_followed(target: str) -> None:
    assert safe_next(target) is None
    assert safe_next("/exercises?x=1") == "/exercises?x=1"


def test_crlf_in_next_after_sign_in_redirects_home(ns: Namespace) -> None:
    from grader.accounts import AccountStore

    AccountStore(ns.store).create("crlf-user", "a long enough passphrase", "learner")
    client = ns.client
    page = client.get("/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/signin", data={
        "csrf_token": token.group(1), "username": "crlf-user",
        "password": "a long enough passphrase", "next": "/exercises\r\nSet-Cookie: evil=1"})
    assert response.status_code == 302
    assert "\n" not in response.headers["Location"] and "evil" not in response.headers["Location"]
    again = client.get("/signin?next=/x%0D%0ASet-Cookie:%20evil=1")
    assert again.status_code == 302 and "evil" not in again.headers["Location"]


# --- Redis down ------------------------------------------------------------------------------


@pytest.fixture
def no_redis_client() -> FlaskClient:
    """An app whose Redis is a port nothing listens on (its rate limiter's counters too: each
    app keeps its own, see :class:`grader.limits.AppLimiter`)."""
    app = create_app({"TESTING": True, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                      "KEY_PREFIX": "down", "SECRET_KEY": "k" * 40})
    return app.test_client()


@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/exercises"), ("post", "/api/v1/submissions"),
    ("get", "/api/v1/submissions/" + "0" * 32), ("get", "/"), ("post", "/signin"),
    ("get", "/instructor/"), ("get", "/healthz"),
])
def test_every_request_while_redis_is_down_is_503_with_retry_after(
    no_redis_client: FlaskClient, method: str, path: str,
) -> None:
    kwargs: dict[str, object] = {"headers": {"Authorization": "Bearer grd_x_y"}}
    if method == "post" and path.startswith("/api/"):
        kwargs["json"] = {"exercise": "add-one", "code": CORRECT, "learner": "ann"}
    if not path.startswith(("/api/", "/healthz")):
        # A signed-in visitor (the account is looked up in Redis) with a valid form token
        # (pages that need no Redis, like the sign-in form itself, still render).
        page = no_redis_client.get("/signin").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token is not None
        with no_redis_client.session_transaction() as session:
            session.update({"user": "ann", "sid": "some-session-id", "epoch": 0})
        kwargs["data"] = {"csrf_token": token.group(1), "username": "ann",
                          "password": "long enough password"}
    response = getattr(no_redis_client, method)(path, **kwargs)
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert int(response.headers["Retry-After"]) > 0


def test_an_app_set_up_later_does_not_take_over_the_rate_limits(ns: Namespace) -> None:
    # One rate limiter serves every app of a process (its decorators are made at import
    # time); an app made later, with a Redis that is down, must not take the counters along.
    create_app({"TESTING": True, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                "KEY_PREFIX": "down-later", "SECRET_KEY": "k" * 40})
    response = ns.client.get("/api/v1/exercises", headers=ns.headers())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "X-RateLimit-Limit" in response.headers  # counted, in this app's Redis
