"""docker-compose.yml and the Dockerfile: the services design.md names, Redis with append-only
persistence, the GPU worker behind a profile with an NVIDIA reservation, and every command one
the ``grader`` CLI accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.cli import SERVICE_COMMANDS, _parser
from grader.processes import parse_queues

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_has_the_four_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"redis", "web", "worker-cpu", "worker-gpu"}


def test_redis_persists_append_only_to_a_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--requirepass" in command
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose["volumes"]


def test_gpu_worker_is_behind_a_profile_with_an_nvidia_reservation(
    compose: dict[str, Any],
) -> None:
    gpu = compose["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "profiles" not in compose["services"]["worker-cpu"]


@pytest.mark.parametrize("service", ["web", "worker-cpu", "worker-gpu"])
def test_each_command_exists_in_the_cli(compose: dict[str, Any], service: str) -> None:
    command = compose["services"][service]["command"]
    assert command[0] == "grader" and command[1] in SERVICE_COMMANDS
    args = _parser().parse_args(command[1:])
    if args.command == "worker":
        parse_queues(args.queues)


def test_workers_consume_their_queues(compose: dict[str, Any]) -> None:
    def queues(service: str) -> list[str]:
        return parse_queues(_parser().parse_args(compose["services"][service]["command"][1:])
                            .queues)

    assert "cpu" in queues("worker-cpu") and "gpu" not in queues("worker-cpu")
    assert "gpu" in queues("worker-gpu") and "cpu" not in queues("worker-gpu")


def test_every_service_reaches_the_same_redis(compose: dict[str, Any]) -> None:
    for name in ("web", "worker-cpu", "worker-gpu"):
        env = compose["services"][name]["environment"]
        assert env["GRADER_REDIS_URL"] == (
            "redis://:${GRADER_REDIS_PASSWORD:?set GRADER_REDIS_PASSWORD}@redis:6379/0")


@pytest.mark.parametrize("service", ["worker-cpu", "worker-gpu"])
def test_workers_run_under_an_init_with_a_heartbeat_health_check(
    compose: dict[str, Any], service: str,
) -> None:
    worker = compose["services"][service]
    assert worker["init"] is True
    assert worker["healthcheck"]["test"] == ["CMD", "python", "-m", "worker.health"]
    assert worker["stop_grace_period"]


def test_gpu_jobs_share_the_card_within_its_memory(compose: dict[str, Any]) -> None:
    from worker.config import WorkerConfig

    gpu = compose["services"]["worker-gpu"]
    config = WorkerConfig.from_env(gpu["environment"])
    concurrency = int(_parser().parse_args(gpu["command"][1:]).concurrency)
    assert concurrency * config.gpu_memory_fraction <= 0.9


def test_the_scale_out_command_names_a_service() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "docker compose up -d --scale worker-cpu=N" in text
    assert "docs/deploy.md" in text


def test_dockerfile_installs_the_project_and_the_course() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install -e ." in text
    for folder in ("grader", "worker", "common", "exercises", "reference"):
        assert f"COPY {folder} {folder}" in text
