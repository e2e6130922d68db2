"""PUT /api/v1/exercises/<slug>: an instructor's bundle is validated on a worker (reference and
golden submissions graded) before it goes live, and refused with the report when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.conftest import COURSE, Namespace

pytestmark = pytest.mark.slow


def bundle(slug: str = "add-two", reference: str = "def add_one(x):\n    return x + 2\n",
           golden: str = "def add_one(x):\n    return x.add(2)\n") -> dict[str, object]:
    folder = COURSE / "exercises" / "add-one"
    yaml = (folder / "exercise.yaml").read_text().replace("slug: add-one", f"slug: {slug}")
    files = {p.relative_to(folder).as_posix(): p.read_text()
             for p in folder.rglob("*") if p.is_file()}
    files["exercise.yaml"] = yaml.replace("title: Add one", "title: Add two")
    files["golden/add_method.py"] = golden
    return {"files": files, "reference": reference}


def test_valid_bundle_goes_live_and_is_graded(service: Namespace) -> None:
    response = service.client.put("/api/v1/exercises/add-two", headers=service.headers(),
                                  json=bundle())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] is True and body["validation"]["ok"] is True
    assert body["exercise"]["origin"] == "upload"
    listed = service.client.get("/api/v1/exercises", headers=service.headers("learner"))
    assert "add-two" in [e["slug"] for e in listed.get_json()["exercises"]]
    graded = service.wait_finished(service.submit("def add_one(x):\n    return x + 2\n",
                                                  exercise="add-two"))
    assert graded["passed"] is True
    assert graded["content_hash"] == body["exercise"]["content_hash"]
    again = service.client.put("/api/v1/exercises/add-two", headers=service.headers(),
                               json=bundle())
    assert again.status_code == 200 and again.get_json()["created"] is False


def test_bundle_whose_golden_solution_fails_is_refused_with_the_report(
    service: Namespace,
) -> None:
    response = service.client.put("/api/v1/exercises/add-three", headers=service.headers(),
                                  json=bundle("add-three", golden="def add_one(x):\n"
                                                                  "    return x\n"))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert any("should get full marks" in p for p in error["details"]["problems"])
    assert service.client.get("/api/v1/exercises/add-three",
                              headers=service.headers()).status_code == 404


def test_malformed_bundle_is_refused_before_any_worker_runs(service: Namespace) -> None:
    broken = bundle("add-four")
    files = broken["files"]
    assert isinstance(files, dict)
    files["exercise.yaml"] = "slug: add-four\ntitle: [unclosed\n"
    response = service.client.put("/api/v1/exercises/add-four", headers=service.headers(),
                                  json=broken)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_exercise"
    escaping = bundle("add-five")
    escaping_files = escaping["files"]
    assert isinstance(escaping_files, dict)
    escaping_files["../../evil.py"] = "x = 1"
    response = service.client.put("/api/v1/exercises/add-five", headers=service.headers(),
                                  json=escaping)
    assert response.status_code == 422
    assert not (Path("/tmp") / "evil.py").exists()
    mismatch = service.client.put("/api/v1/exercises/other-slug", headers=service.headers(),
                                  json=bundle("add-six"))
    assert mismatch.status_code == 422
    assert "folder" in mismatch.get_json()["error"]["message"]


def test_a_check_argument_the_check_does_not_take_is_refused_with_its_line(
    service: Namespace,
) -> None:
    wrong = bundle("add-seven")
    files = wrong["files"]
    assert isinstance(files, dict)
    files["exercise.yaml"] = str(files["exercise.yaml"]).replace(
        "    args: {type: tensor}", "    args: {kind: tensor}")
    line = str(files["exercise.yaml"]).splitlines().index("    args: {kind: tensor}") + 1
    response = service.client.put("/api/v1/exercises/add-seven", headers=service.headers(),
                                  json=wrong)
    assert response.status_code == 422
    error = response.get_json()["error"]
    # Bound on the worker, against the check's signature: named as in the upload, at its line.
    assert error["code"] == "validation_failed"
    (problem,) = error["details"]["problems"]
    assert problem.startswith(f"exercise.yaml:{line}: field checks.0.args.kind: check 'returns' "
                              "takes no argument 'kind'")
    assert "Its arguments: type (optional), target (optional)." in problem
