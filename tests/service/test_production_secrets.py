"""Production refuses placeholder or missing secrets; docker-compose has no ``change-me``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.deployment import InsecureConfiguration, enforce, is_placeholder, problems

ROOT = Path(__file__).resolve().parents[2]
GOOD = "0f5e8c7d1a2b3c4d5e6f708192a3b4c5"
GOOD_URL = f"redis://:{GOOD}@redis:6379/0"


@pytest.mark.parametrize("value", [None, "", "change-me", "CHANGE-ME-PLEASE-NOW", "secret",
                                   "short", "aaaaaaaaaaaaaaaaaaaa", "your-secret-goes-here!"])
def test_placeholders_are_recognised(value: str | None) -> None:
    assert is_placeholder(value)


def test_real_secrets_pass() -> None:
    assert not is_placeholder(GOOD)
    assert problems({"GRADER_SECRET_KEY": GOOD}, GOOD_URL) == []


def test_production_refuses_and_development_warns(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(InsecureConfiguration, match="GRADER_SECRET_KEY"):
        enforce("production", {"GRADER_SECRET_KEY": "change-me"}, GOOD_URL, "web app")
    with pytest.raises(InsecureConfiguration, match="GRADER_REDIS_URL"):
        enforce("production", {"GRADER_SECRET_KEY": GOOD}, "redis://redis:6379/0", "web app")
    with pytest.raises(InsecureConfiguration, match="GRADER_MODE"):
        enforce("staging", {}, GOOD_URL, "web app")
    enforce("development", {"GRADER_SECRET_KEY": None}, "redis://redis:6379/0", "web app")
    assert "GRADER_SECRET_KEY" in caplog.text


def _start(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("secret", [None, "change-me"])
def test_the_web_app_refuses_to_start_in_production_without_a_real_key(
    secret: str | None,
) -> None:
    env = {"GRADER_REDIS_URL": GOOD_URL}
    if secret is not None:
        env["GRADER_SECRET_KEY"] = secret
    started = _start("from grader.app import create_app; create_app()", **env)
    assert started.returncode != 0
    assert "refuses to start in production" in started.stderr


def test_the_worker_refuses_to_start_in_production_with_a_placeholder_callback_secret() -> None:
    started = _start("import worker.celery_app", GRADER_REDIS_URL=GOOD_URL,
                     GRADER_CALLBACK_SECRET="change-me")
    assert started.returncode != 0
    assert "GRADER_CALLBACK_SECRET" in started.stderr
    fine = _start("import worker.celery_app", GRADER_REDIS_URL=GOOD_URL,
                  GRADER_CALLBACK_SECRET=GOOD)
    assert fine.returncode == 0, fine.stderr


def test_docker_compose_has_no_placeholder_defaults_and_a_redis_password() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    for required in ("GRADER_REDIS_PASSWORD:?", "GRADER_SECRET_KEY:?",
                     "GRADER_CALLBACK_SECRET:?"):
        assert "${" + required in text
    assert "--requirepass" in text
