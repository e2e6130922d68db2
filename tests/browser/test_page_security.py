"""Sessions, CSRF and headers of the pages, through Flask's test client on the tests' Redis."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.store import Store
from grader.accounts import AccountStore
from grader.app import create_app
from tests.browser.conftest import PASSWORD, Service


@pytest.fixture
def app(service: Service) -> Iterator[Flask]:
    """An app of its own (a fresh key prefix) on the tests' Redis, with CSRF on."""
    prefix = f"pages{uuid.uuid4().hex[:8]}"
    app = create_app({"TESTING": True, "REDIS_URL": service.redis_url, "KEY_PREFIX": prefix,
                      "SECRET_KEY": "test", "RATELIMIT_ENABLED": False})
    accounts = AccountStore(Store.from_url(service.redis_url, prefix))
    accounts.create("ann", PASSWORD, "learner", "Ann")
    yield app


def csrf_token(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                      client.get(path).get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    token = csrf_token(client, "/signin")
    response = client.post("/signin", data={"username": "ann", "password": PASSWORD,
                                            "csrf_token": token})
    assert response.status_code == 302
    return client


def test_a_form_without_its_csrf_token_is_refused_with_a_page_that_says_why(app: Flask) -> None:
    client = signed_in(app)
    response = client.post("/exercises/zeros-matrix/submissions",
                           data={"code": "def zeros_matrix(r, c):\n    return 0\n"})
    assert response.status_code == 400
    assert "This form expired" in response.get_data(as_text=True)
    assert app.extensions["grader.store"].history("ann") == []


def test_pages_send_security_headers_and_the_api_keeps_json_errors(app: Flask) -> None:
    client = signed_in(app)
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    api = client.get("/api/v1/exercises")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "unauthorized"


def test_changing_the_password_ends_older_sessions(app: Flask) -> None:
    client = signed_in(app)
    assert client.get("/").status_code == 200
    with app.app_context():
        AccountStore(app.extensions["grader.store"]).set_password("ann", "a new password")
    response = client.get("/")
    assert response.status_code == 302 and "/signin" in response.location


def test_signing_out_needs_a_post_with_the_token(app: Flask) -> None:
    client = signed_in(app)
    assert client.get("/signout").status_code == 405
    token = csrf_token(client, "/")
    assert client.post("/signout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_the_command_line_creates_the_first_instructor(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["accounts", "create", "tess", "--role", "instructor", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "created the instructor account 'tess'" in result.output
    again = app.test_cli_runner().invoke(
        args=["accounts", "create", "tess", "--password", PASSWORD])
    assert again.exit_code != 0 and "taken" in again.output


def test_a_notebook_upload_is_submitted_as_its_code_and_other_files_are_refused(
        app: Flask) -> None:
    client = signed_in(app)
    code = "import torch\n\ndef zeros_matrix(rows, cols):\n    return torch.zeros(rows, cols)\n"
    notebook = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {},
                           "execution_count": None, "outputs": [],
                           "source": ["%matplotlib inline\n", code]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    token = csrf_token(client, "/exercises/zeros-matrix")
    response = client.post(
        "/exercises/zeros-matrix/submissions", content_type="multipart/form-data",
        data={"csrf_token": token, "code": "ignored",
              "file": (io.BytesIO(json.dumps(notebook).encode()), "work.ipynb")})
    assert response.status_code == 303
    store = app.extensions["grader.store"]
    [record] = store.history("ann")
    assert record.filename == "work.ipynb" and record.status == "queued"
    source = store.get_source(record.id)
    assert code in source and source.startswith("pass  # removed IPython command")
    refused = client.post(
        "/exercises/zeros-matrix/submissions", content_type="multipart/form-data",
        headers={"Accept": "application/json"},
        data={"csrf_token": token, "file": (io.BytesIO(b"hello"), "notes.txt")})
    assert refused.status_code == 422
    assert ".py file or a Jupyter notebook" in refused.get_json()["error"]["message"]
