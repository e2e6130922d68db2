"""The rules behind passback and keys, without a platform: which score a policy posts, what a
score says, how keys rotate and leave the JWKS, how a registration is validated."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from pydantic import ValidationError

from common.lti.keys import RETIRED_GRACE_S, ToolKeys
from common.lti.models import GradeTarget, Registration
from common.lti.passback import ScoreChoice, build_grade, choose_score
from common.records import SubmissionRecord
from common.store import Store
from tests.lti.conftest import Grader


def record(n: int, score: float | None, status: str = "graded",
           regrade_of: str | None = None) -> SubmissionRecord:
    return SubmissionRecord(
        id=f"s{n}", exercise="add-one", learner="lti-x", status=status,  # type: ignore[arg-type]
        queue="cpu", created_at=float(n), finished_at=float(n) + 0.5, score=score,
        max_score=4.0, submitted_by=f"regrade:{regrade_of}" if regrade_of else "page:lti-x")


def test_best_is_the_highest_score_and_latest_the_newest_submission() -> None:
    records = [record(1, 1.0), record(2, 4.0), record(3, 1.0)]
    assert choose_score(records, "best") == ScoreChoice("s2", 4.0, 4.0, graded=True)
    assert choose_score(records, "latest") == ScoreChoice("s3", 1.0, 4.0, graded=True)


def test_a_regrade_replaces_the_grading_it_regrades_up_or_down() -> None:
    records = [record(1, 4.0), record(2, 1.0), record(3, 0.0, regrade_of="s1"),
               record(4, 4.0, regrade_of="s2")]
    assert choose_score(records, "best") == ScoreChoice("s4", 4.0, 4.0, graded=True)
    assert choose_score(records, "latest") == ScoreChoice("s4", 4.0, 4.0, graded=True)
    lowered = [record(1, 4.0), record(2, 1.0, regrade_of="s1")]
    assert choose_score(lowered, "best") == ScoreChoice("s2", 1.0, 4.0, graded=True)


def test_only_failed_gradings_post_a_failed_progress_without_a_score() -> None:
    choice = choose_score([record(1, None, status="failed")], "best")
    assert choice == ScoreChoice("s1", None, None, graded=False)
    target = GradeTarget(issuer="i", client_id="c", deployment_id="d", context_id="k",
                         resource_link_id="r", lineitem="https://lms.example/li/1",
                         user_id="u-1", learner="lti-x", exercise="add-one")
    failed = json.loads(build_grade(target, choice).get_value())  # type: ignore[arg-type]
    assert failed["gradingProgress"] == "Failed" and "scoreGiven" not in failed
    assert choose_score([record(1, None, status="running")], "best") is None
    graded = json.loads(build_grade(target, ScoreChoice("s", 3.0, 4.0, True)).get_value())
    assert graded["scoreGiven"] == 3.0 and graded["scoreMaximum"] == 4.0
    assert (graded["activityProgress"], graded["gradingProgress"]) == ("Completed",
                                                                       "FullyGraded")
    assert graded["userId"] == "u-1" and "." in graded["timestamp"]  # sub-second precision


def test_keys_rotate_and_leave_the_jwks_after_their_grace(grader: Grader) -> None:
    store = Store.from_url(grader.env["GRADER_REDIS_URL"], f"keys-{uuid.uuid4().hex[:6]}")
    ring = ToolKeys(store)
    first = ring.active()
    assert ring.active().kid == first.kid  # created once
    second, retired = ring.rotate()
    assert retired is not None and retired.kid == first.kid
    assert ring.active().kid == second.kid
    assert {k["kid"] for k in ring.jwks()["keys"]} == {first.kid, second.kid}
    later = time.time() + RETIRED_GRACE_S + 1
    assert [k.kid for k in ring.published(later)] == [second.kid]
    assert ring.prune(later) == [first.kid]
    assert [k.kid for k in ring.all()] == [second.kid]
    assert all("d" not in k for k in ring.jwks()["keys"])  # never the private part


@pytest.mark.parametrize("field,value", [
    ("auth_url", "javascript:alert(1)"), ("token_url", "/relative"), ("deployment_ids", [" "]),
    ("jwks_url", "ftp://lms.example/keys"), ("issuer", ""),
])
def test_a_registration_with_a_bad_field_is_refused(field: str, value: object) -> None:
    good = {"issuer": "https://lms.example", "client_id": "c", "deployment_ids": ["d"],
            "auth_url": "https://lms.example/auth", "token_url": "https://lms.example/token",
            "jwks_url": "https://lms.example/jwks"}
    Registration.model_validate(good)
    with pytest.raises(ValidationError):
        Registration.model_validate({**good, field: value})


def test_the_cli_refuses_a_bad_registration_and_lists_good_ones(grader: Grader) -> None:
    bad = grader.cli("lti", "register", "--issuer", "x", "--client-id", "c", "--deployment-id",
                     "d", "--auth-url", "nope", "--token-url", "https://a/t", "--jwks-url",
                     "https://a/k")
    assert bad.returncode == 2 and "auth_url" in bad.stderr
    listed = grader.cli("lti", "list")
    assert listed.returncode == 0
    assert all(json.loads(line)["issuer"] != "x" for line in listed.stdout.splitlines())
