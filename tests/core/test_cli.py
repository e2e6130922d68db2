"""The ``grader`` command as a learner or instructor runs it.

The console script itself (``grader`` passing its grading commands on to ``python -m
worker.cli``) runs once per output format and once with only the environment to name the
course; the other tests call the same ``main`` in this process, where a usage error costs no
interpreter start and no import of torch, and grading borrows the session's warm sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURE_COURSE, ROOT, console_script
from worker.runner import Runner

GOLDEN = FIXTURE_COURSE / "exercises" / "tiny-share" / "golden"


def grader(*args: str, cwd: Path = ROOT, stdin: bytes = b"",
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([console_script("grader"), *args], cwd=cwd, input=stdin.decode(),
                          capture_output=True, text=True, check=False, env=env)


def test_check_json_has_the_documented_shape(tmp_path: Path) -> None:
    out = grader("--exercises", str(FIXTURE_COURSE), "check", "tiny-share",
                 str(GOLDEN / "copies.py"), "--json", cwd=tmp_path)
    assert out.returncode == 1
    verdict = json.loads(out.stdout)
    assert {"exercise", "status", "score", "max_score", "checks", "stdout", "error"} <= set(
        verdict)
    check = verdict["checks"][0]
    assert {"name", "case", "passed", "score", "max_score", "message"} <= set(check)
    failed = [c for c in verdict["checks"] if not c["passed"]]
    shown = [c for c in failed if c["visible"]]
    # The hint is data beside the message, naming the misconception it explains.
    assert shown and all(c["hints"] == [{"misconception": "copies",
                                         "text": c["hints"][0]["text"]}] for c in shown)
    assert all("from_numpy(arr)` shares its memory" in c["hints"][0]["text"]
               and "Hint" not in c["message"] for c in shown)
    # Hidden cases: pass/fail only, no message or hint that could quote hidden values.
    hidden = [c for c in failed if not c["visible"]]
    assert all(c["message"] == "failed on this hidden case (details of hidden cases are not "
               "shown)" and c["hints"] == [] for c in hidden)


def test_check_exits_zero_on_full_marks_with_a_readable_report(tmp_path: Path) -> None:
    out = grader("check", "tiny-share", str(GOLDEN / "as_tensor.py"), "--exercises",
                 str(FIXTURE_COURSE), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("tiny-share: 10 / 10 points (full marks)")
    assert "[PASS] shares_memory" in out.stdout


def test_unknown_exercise_is_a_usage_error_listing_known_slugs(in_process: Any) -> None:
    out = in_process("check", "nope", str(GOLDEN / "as_tensor.py"))
    assert out.returncode == 2
    assert "unknown exercise 'nope'; known:" in out.stderr
    assert "share-from-numpy" in out.stderr


def test_missing_file_and_bad_usage_exit_two(tmp_path: Path, in_process: Any) -> None:
    assert in_process("check", "share-from-numpy", "missing.py").returncode == 2
    assert in_process("check").returncode == 2
    assert grader("frobnicate", cwd=tmp_path).returncode == 2  # the command's own dispatch


def test_exercises_dir_from_the_environment(tmp_path: Path) -> None:
    env_run = subprocess.run([console_script("grader"), "exercises", "list", "--json"],
                             cwd=tmp_path,
                             capture_output=True, text=True, check=True,
                             env={"PATH": os.environ["PATH"],
                                  "GRADER_EXERCISES_DIR": str(FIXTURE_COURSE / "exercises")})
    assert [e["slug"] for e in json.loads(env_run.stdout)] == ["tiny-share"]


def test_pasted_code_on_stdin(in_process: Any, borrowed_sandbox: Runner) -> None:
    out = in_process("--exercises", str(FIXTURE_COURSE), "check", "tiny-share", "-",
                     stdin=(GOLDEN / "as_tensor.py").read_bytes())
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("tiny-share: 10 / 10 points (full marks)")
    wrong = in_process("--exercises", str(FIXTURE_COURSE), "check", "tiny-share", "-",
                       stdin=(GOLDEN / "copies.py").read_bytes())
    assert wrong.returncode == 1 and "[FAIL] shares_memory" in wrong.stdout


def test_arguments_are_checked_before_any_sandbox_starts(
    in_process: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With a layer disabled, a strict sandbox refuses to start: an answer about the arguments
    # (and not about the sandbox) proves that they were checked first.
    monkeypatch.setenv("GRADER_SANDBOX_DISABLE", "userns")
    unknown = in_process("check", "nope", str(GOLDEN / "as_tensor.py"))
    assert unknown.returncode == 2 and "unknown exercise 'nope'" in unknown.stderr
    missing = in_process("check", "share-from-numpy", "missing.py")
    assert missing.returncode == 2 and "missing.py: no such file" in missing.stderr
    refused = in_process("check", "share-from-numpy", str(GOLDEN / "as_tensor.py"))
    assert refused.returncode == 1 and "user namespace" in refused.stderr


def test_validate_reports_every_authoring_error_with_its_line(
    tmp_path: Path, in_process: Any, borrowed_sandbox: Runner,
) -> None:
    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    path = course / "exercises" / "tiny-share" / "exercise.yaml"
    text = path.read_text()
    for right, wrong in (("module: numpy-interop", "module: numpy-interopp"),
                         ("  - name: input_unchanged", "  - name: input_unchnaged"),
                         ("    weight: 3", "    weight: -3")):
        text = text.replace(right, wrong)
    path.write_text(text)
    out = in_process("--exercises", str(course), "exercises", "validate")
    assert out.returncode == 1
    assert "FAIL tiny-share (3 problems)" in out.stdout
    assert out.stdout.count("^") == 3
    lines = text.splitlines()
    for wrong in ("module: numpy-interopp", "  - name: input_unchnaged", "    weight: -3"):
        assert f"exercise.yaml:{lines.index(wrong) + 1}: field" in out.stdout
        assert f"{lines.index(wrong) + 1} | {wrong}" in out.stdout
    assert "did you mean 'input_unchanged'?" in out.stdout
