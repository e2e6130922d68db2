"""The REST API v1 against a real Redis and a real Celery worker: what an LMS, a learner and an
instructor see."""

from __future__ import annotations

import io
import json

import pytest

from tests.service.conftest import CORRECT, WRONG, Namespace

pytestmark = pytest.mark.slow


def test_submission_is_graded_and_shows_score_checks_and_output(service: Namespace) -> None:
    code = "def add_one(x):\n    print('hello from the learner')\n    return x + 1\n"
    response = service.client.post("/api/v1/submissions", headers=service.headers("learner"),
                                   json={"exercise": "add-one", "code": code})
    assert response.status_code == 202
    accepted = response.get_json()
    assert accepted["status"] == "queued" and accepted["learner"] == "ann"
    assert response.headers["Location"] == accepted["url"]
    body = service.wait_finished(accepted["id"])
    assert body["status"] == "graded"
    assert body["score"] == body["max_score"] == 4
    assert body["passed"] is True
    assert {c["name"] for c in body["checks"]} == {"returns", "values"}
    assert all(c["passed"] for c in body["checks"])
    assert "hello from the learner" in body["stdout"]
    assert body["attempts"] == 1 and body["content_hash"]


def test_wrong_answer_is_graded_with_lost_points_not_failed(service: Namespace) -> None:
    body = service.wait_finished(service.submit(WRONG, learner="carl"))
    assert body["status"] == "graded"
    assert body["passed"] is False
    assert body["score"] < body["max_score"]
    values = next(c for c in body["checks"] if c["name"] == "values")
    assert not values["passed"] and values["message"]


def test_syntax_error_is_graded_with_the_error_shown(service: Namespace) -> None:
    body = service.wait_finished(service.submit("def add_one(x)\n    return x\n",
                                                learner="carl"))
    assert body["status"] == "graded" and body["score"] == 0
    assert "SyntaxError" in body["error"]


def test_python_file_and_notebook_uploads_are_graded(service: Namespace) -> None:
    notebook = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None,
                           "outputs": [], "source": ["%matplotlib inline\n", CORRECT]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ids = []
    for name, data in (("solution.py", CORRECT.encode()),
                       ("solution.ipynb", json.dumps(notebook).encode())):
        response = service.client.post(
            "/api/v1/submissions", headers=service.headers("learner"),
            data={"exercise": "add-one", "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data")
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["id"])
    for submission_id in ids:
        assert service.wait_finished(submission_id)["passed"] is True
    assert service.record(ids[1]).filename == "solution.ipynb"


def test_upload_of_another_file_type_is_415(service: Namespace) -> None:
    response = service.client.post(
        "/api/v1/submissions", headers=service.headers("learner"),
        data={"exercise": "add-one", "file": (io.BytesIO(b"x"), "solution.txt")},
        content_type="multipart/form-data")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_a_broken_notebook_is_422(service: Namespace) -> None:
    response = service.client.post(
        "/api/v1/submissions", headers=service.headers("learner"),
        data={"exercise": "add-one", "file": (io.BytesIO(b"{not json"), "a.ipynb")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "notebook" in response.get_json()["error"]["message"]


def test_history_lists_a_learners_submissions_newest_first(service: Namespace) -> None:
    first = service.submit(CORRECT, learner="dana")
    second = service.submit(WRONG, learner="dana")
    response = service.client.get("/api/v1/learners/dana/submissions",
                                  headers=service.headers("lms"))
    assert response.status_code == 200
    ids = [s["id"] for s in response.get_json()["submissions"]]
    assert ids == [second, first]
    for submission_id in ids:
        service.wait_finished(submission_id)


def test_stats_and_gradebook_show_best_scores(service: Namespace) -> None:
    service.wait_finished(service.submit(WRONG, learner="erin"))
    service.wait_finished(service.submit(CORRECT, learner="erin"))
    service.wait_finished(service.submit(WRONG, learner="finn"))
    stats = service.client.get("/api/v1/exercises/add-one/stats",
                               headers=service.headers()).get_json()
    assert stats["graded"] >= 3
    values = next(c for c in stats["checks"] if c["name"] == "values")
    assert 0 < values["pass_rate"] < 1
    assert sum(b["count"] for b in stats["scores"]) == stats["graded"]
    assert stats["scores"][-1]["low"] == 1.0 and stats["scores"][-1]["count"] >= 1
    response = service.client.get("/api/v1/gradebook.csv", headers=service.headers())
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = [line.split(",") for line in response.get_data(as_text=True).splitlines()]
    header = rows[0]
    assert header[0] == "learner" and header[-1] == "total" and "add-one" in header
    by_learner = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_learner["erin"]["add-one"] == "4"
    assert float(by_learner["finn"]["add-one"]) < 4


def test_gpu_exercise_goes_to_the_gpu_queue(service: Namespace) -> None:
    submission_id = service.submit(CORRECT, exercise="add-one-gpu")
    assert service.record(submission_id).queue == "gpu"
    assert service.wait_finished(submission_id)["status"] == "graded"


def test_idempotency_key_returns_the_same_submission(service: Namespace) -> None:
    headers = {**service.headers("lms"), "Idempotency-Key": "attempt-42"}
    payload = {"exercise": "add-one", "code": CORRECT, "learner": "gina"}
    first = service.client.post("/api/v1/submissions", headers=headers, json=payload)
    again = service.client.post("/api/v1/submissions", headers=headers, json=payload)
    assert first.status_code == again.status_code == 202
    assert first.get_json()["id"] == again.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    conflict = service.client.post("/api/v1/submissions", headers=headers,
                                   json={**payload, "code": WRONG})
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["code"] == "idempotency_conflict"
    history = service.client.get("/api/v1/learners/gina/submissions",
                                 headers=service.headers()).get_json()["submissions"]
    assert [s["id"] for s in history] == [first.get_json()["id"]]
    assert service.wait_finished(first.get_json()["id"])["attempts"] == 1


def test_missing_or_wrong_token_is_401(service: Namespace) -> None:
    for headers in ({}, {"Authorization": "Bearer grd_nope_nope"},
                    {"Authorization": "Basic abc"}):
        response = service.client.get("/api/v1/exercises", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_learner_token_on_instructor_routes_is_403(service: Namespace) -> None:
    learner = service.headers("learner")
    for method, path in (("get", "/api/v1/exercises/add-one/stats"),
                         ("get", "/api/v1/gradebook.csv"),
                         ("put", "/api/v1/exercises/add-one")):
        response = getattr(service.client, method)(path, headers=learner, json={})
        assert response.status_code == 403, path
        assert response.get_json()["error"]["code"] == "forbidden"


def test_learner_token_acts_only_for_its_learner(service: Namespace) -> None:
    learner = service.headers("learner")
    response = service.client.post("/api/v1/submissions", headers=learner,
                                   json={"exercise": "add-one", "code": CORRECT,
                                         "learner": "bob"})
    assert response.status_code == 403
    assert service.client.get("/api/v1/learners/bob/submissions",
                              headers=learner).status_code == 403
    bobs = service.submit(CORRECT, learner="bob")
    assert service.client.get(f"/api/v1/submissions/{bobs}", headers=learner).status_code == 404
    assert service.client.get(f"/api/v1/submissions/{bobs}",
                              headers=service.headers("other_learner")).status_code == 200


def test_lms_must_name_the_learner(service: Namespace) -> None:
    response = service.client.post("/api/v1/submissions", headers=service.headers("lms"),
                                   json={"exercise": "add-one", "code": CORRECT})
    assert response.status_code == 422


def test_unknown_exercise_or_submission_is_404(service: Namespace) -> None:
    headers = service.headers("lms")
    assert service.client.get("/api/v1/exercises/no-such", headers=headers).status_code == 404
    response = service.client.post("/api/v1/submissions", headers=headers,
                                   json={"exercise": "no-such", "code": CORRECT,
                                         "learner": "ann"})
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found",
                                             "message": "no exercise 'no-such'"}}
    assert service.client.get("/api/v1/submissions/abc", headers=headers).status_code == 404


def test_oversized_bodies_are_413(service: Namespace) -> None:
    headers = service.headers("lms")
    huge = "x" * (9 * 2**20)
    response = service.client.post("/api/v1/submissions", headers=headers,
                                   data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    big_code = "# padding\n" * 30_000
    response = service.client.post("/api/v1/submissions", headers=headers,
                                   json={"exercise": "add-one", "code": big_code,
                                         "learner": "ann"})
    assert response.status_code == 413


def test_malformed_or_invalid_bodies_are_400_422_415(service: Namespace) -> None:
    headers = service.headers("lms")
    bad_json = service.client.post("/api/v1/submissions", headers=headers,
                                   data="{not json", content_type="application/json")
    assert bad_json.status_code == 400
    assert bad_json.get_json()["error"]["code"] == "bad_json"
    missing = service.client.post("/api/v1/submissions", headers=headers,
                                  json={"exercise": "add-one"})
    assert missing.status_code == 422
    assert "code" in missing.get_json()["error"]["message"]
    extra = service.client.post("/api/v1/submissions", headers=headers,
                                json={"exercise": "add-one", "code": "x", "learner": "a",
                                      "surprise": 1})
    assert extra.status_code == 422
    bad_url = service.client.post("/api/v1/submissions", headers=headers,
                                  json={"exercise": "add-one", "code": "x", "learner": "a",
                                        "callback_url": "file:///etc/passwd"})
    assert bad_url.status_code == 422
    text = service.client.post("/api/v1/submissions", headers=headers, data="code",
                               content_type="text/plain")
    assert text.status_code == 415
    empty = service.client.post("/api/v1/submissions", headers=headers,
                                json={"exercise": "add-one", "code": "  ", "learner": "a"})
    assert empty.status_code == 422


def test_rate_limit_answers_429_per_learner(service: Namespace) -> None:
    from grader.app import create_app

    app = create_app({"TESTING": True, "REDIS_URL": service.redis_url,
                      "KEY_PREFIX": service.prefix, "EXERCISES_DIR": str(service.app.config[
                          "EXERCISES_DIR"]), "SUBMIT_RATE_LIMIT": "2 per minute"})
    client = app.test_client()
    headers = service.headers("lms")
    # Requests for an unknown exercise still count, and nothing is graded.
    payload = {"exercise": "no-such", "code": CORRECT, "learner": "rate-limited-learner"}
    statuses = [client.post("/api/v1/submissions", headers=headers, json=payload).status_code
                for _ in range(3)]
    assert statuses == [404, 404, 429]
    limited = client.post("/api/v1/submissions", headers=headers, json=payload)
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    other = client.post("/api/v1/submissions", headers=headers,
                        json={**payload, "learner": "another-learner"})
    assert other.status_code == 404  # another learner has their own budget


def test_exercises_are_listed_and_shown(service: Namespace) -> None:
    listing = service.client.get("/api/v1/exercises", headers=service.headers("learner"))
    assert listing.status_code == 200
    slugs = [e["slug"] for e in listing.get_json()["exercises"]]
    assert slugs[:2] == ["add-one", "add-one-gpu"]  # course order: tensor-basics, devices
    detail = service.client.get("/api/v1/exercises/add-one",
                                headers=service.headers("learner")).get_json()
    assert detail["function"] == "add_one" and "NotImplementedError" in detail["starter"]
    assert [c["name"] for c in detail["visible_cases"]] == ["shown"]
    assert "reference" not in json.dumps(detail)


def test_openapi_document_describes_every_route(service: Namespace) -> None:
    document = service.client.get("/api/v1/docs/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/api/v1/exercises", "/api/v1/exercises/{slug}", "/api/v1/exercises/{slug}/stats",
        "/api/v1/submissions", "/api/v1/submissions/{submission_id}",
        "/api/v1/learners/{learner}/submissions", "/api/v1/gradebook.csv"}
    post = document["paths"]["/api/v1/submissions"]["post"]
    assert {"202", "401", "413", "415", "422", "429"} <= set(post["responses"])
    assert "SubmissionIn" in json.dumps(post["requestBody"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_healthz_and_metrics(service: Namespace) -> None:
    health = service.client.get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    assert body["redis"] is True and body["workers"]
    assert "cpu" in body["workers"][0]["queues"]
    service.wait_finished(service.submit(CORRECT, learner="metrics-learner"))
    text = service.client.get("/metrics").get_data(as_text=True)
    assert 'grader_submissions{status="graded"}' in text
    assert "grader_grading_latency_seconds_bucket" in text
    assert 'grader_queue_depth{queue="cpu"}' in text
