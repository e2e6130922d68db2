"""The sandbox runner's own behaviour: strict and development modes, the zygote's hygiene and
life cycle, the CLI default, GPU jobs, and the checks on what comes back over the channel."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from common.spec import CaseSpec, ExerciseLibrary
from tests.sandbox.conftest import COURSE, GOOD, SECRET, SLUG, require_sandbox_machine
from worker.config import ConfigError, WorkerConfig
from worker.harness.frames import encode_body, seal
from worker.harness.main import normalise_memory_error
from worker.observation import ObservationError
from worker.pipeline import Pipeline
from worker.process_runner import ProcessRunner
from worker.runner import Job, Limits, OutcomeBuilder
from worker.sandbox import SandboxConfig, SandboxRunner, SandboxUnavailable
from worker.sandbox.layers import missing_message

ROOT = Path(__file__).resolve().parents[2]
CASE = CaseSpec.model_validate({"name": "c", "seed": 1, "args": {
    "x": {"gen": "tensor", "shape": [3]}}})
WHOAMI = ("import os, torch\n\ndef double_it(x):\n"
          "    print('uid', os.getuid(), 'host', os.uname().nodename)\n    return x * 2\n")


def _job(source: str = GOOD, device: str = "cpu") -> Job:
    return Job(source=source, function="double_it", cases=(CASE,), device=device,
               limits=Limits(time_s=5))


# -- configuration ------------------------------------------------------------------------------


def test_sandbox_is_the_default_runner_and_strict_by_default() -> None:
    config = WorkerConfig.from_env({})
    assert config.runner == "sandbox"
    assert config.sandbox_strict is True


def test_development_switch_and_settings_are_read_from_the_environment() -> None:
    config = WorkerConfig.from_env({
        "GRADER_RUNNER": "process", "GRADER_SANDBOX_STRICT": "0",
        "GRADER_SANDBOX_UID_BASE": "70000", "GRADER_SANDBOX_DISABLE": "landlock, seccomp",
    })
    assert config.runner == "process"
    assert config.sandbox_strict is False
    assert config.sandbox_uid_base == 70000
    assert config.sandbox_disabled_layers == {"landlock", "seccomp"}


def test_a_malformed_setting_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match="GRADER_SANDBOX_STRICT"):
        WorkerConfig.from_env({"GRADER_SANDBOX_STRICT": "maybe"})


def test_the_process_runner_is_selectable_only_in_development_mode() -> None:
    from worker.runners import build_runner

    with pytest.raises(ConfigError, match="GRADER_SANDBOX_STRICT=0"):
        WorkerConfig.from_env({"GRADER_RUNNER": "process"})
    config = WorkerConfig.from_env({"GRADER_RUNNER": "process", "GRADER_SANDBOX_STRICT": "0"})
    assert isinstance(build_runner(config), ProcessRunner)


def test_an_unknown_runner_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match="GRADER_RUNNER='docker'"):
        WorkerConfig.from_env({"GRADER_RUNNER": "docker"})


def test_refusal_names_each_missing_layer_and_the_switch() -> None:
    message = missing_message({"landlock": "the kernel has no Landlock",
                               "userns": "unshare failed: Operation not permitted"})
    assert "Landlock: the kernel has no Landlock" in message
    assert "user namespace: unshare failed" in message
    assert "GRADER_SANDBOX_STRICT=0" in message


# -- what comes back over the result channel ----------------------------------------------------


class _Harness:
    """Seals frames as the harness does, with the builder's key and in sequence."""

    def __init__(self, builder: OutcomeBuilder) -> None:
        self.key, self.seq = builder.key, 0

    def frame(self, header: dict[str, object]) -> bytes:
        self.seq += 1
        return seal(self.key, self.seq - 1, encode_body(header, []))


def test_an_observation_for_a_case_that_was_not_started_is_a_protocol_error() -> None:
    builder = OutcomeBuilder(Limits(), ("a", "b"))
    harness = _Harness(builder)
    builder.feed(harness.frame({"type": "ready"}) + harness.frame({"type": "loaded"}))
    with pytest.raises(ObservationError, match="not one of this run's"):
        builder.feed(harness.frame({"type": "start", "case": "hidden-elsewhere"}))


def test_done_before_every_case_ran_is_a_protocol_error() -> None:
    builder = OutcomeBuilder(Limits(), ("a",))
    harness = _Harness(builder)
    builder.feed(harness.frame({"type": "ready"}) + harness.frame({"type": "start", "case": "a"}))
    with pytest.raises(ObservationError, match="done before all its cases"):
        builder.feed(harness.frame({"type": "done"}))


@pytest.mark.parametrize(("kind", "message"), [
    ("_ArrayMemoryError", "Unable to allocate 8.00 GiB for an array"),
    ("RuntimeError", "[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate "
                     "memory: you tried to allocate 8589934592 bytes."),
])
def test_running_out_of_memory_is_reported_as_memory_error(kind: str, message: str) -> None:
    error = {"type": kind, "message": message, "traceback": ""}
    normalise_memory_error(error)
    assert error["type"] == "MemoryError"
    assert kind in error["message"]


def test_other_runtime_errors_keep_their_type() -> None:
    error = {"type": "RuntimeError", "message": "shape mismatch", "traceback": ""}
    normalise_memory_error(error)
    assert error["type"] == "RuntimeError"


# -- the zygote --------------------------------------------------------------------------------


@pytest.mark.slow
def test_zygote_holds_no_secrets_no_extra_sockets_and_one_thread(sandbox: SandboxRunner) -> None:
    pid = sandbox.zygote_pid
    assert pid is not None
    environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    assert SECRET not in environ
    assert "GRADER_ATTACK_SECRET" not in environ
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed meanwhile: the zygote is busy
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    assert sum(link.startswith("socket:") for link in links) == 1, links  # the control channel
    assert len(os.listdir(f"/proc/{pid}/task")) == 1


@pytest.mark.slow
def test_learner_code_runs_as_the_slot_uid_in_its_own_namespaces(
    sandbox: SandboxRunner, pipeline: Pipeline
) -> None:
    verdict = pipeline.grade(SLUG, WHOAMI)
    assert verdict.full_marks
    assert "uid 1000 host sandbox" in verdict.stdout  # mapped to uid_base + slot outside
    assert sandbox.uid == sandbox.config.uid_base + (sandbox.slot or 0)
    assert all(why is None for why in sandbox.layers.values()), sandbox.layers


@pytest.mark.slow
def test_strict_mode_refuses_when_a_layer_is_missing() -> None:
    require_sandbox_machine()
    runner = SandboxRunner(SandboxConfig(disabled=frozenset({"landlock"})))
    try:
        with pytest.raises(SandboxUnavailable) as refused:
            runner.start()
    finally:
        runner.close()
    assert "Landlock: disabled by GRADER_SANDBOX_DISABLE" in str(refused.value)
    assert "strict mode" in str(refused.value)


@pytest.mark.slow
def test_development_mode_runs_without_the_layer_and_says_so_on_every_result() -> None:
    require_sandbox_machine()
    runner = SandboxRunner(SandboxConfig(strict=False,
                                         disabled=frozenset({"landlock", "seccomp"})))
    try:
        verdict = Pipeline(ExerciseLibrary(COURSE), runner).grade(SLUG, GOOD)
    finally:
        runner.close()
    assert verdict.full_marks
    assert len(verdict.notices) == 1
    assert "development mode" in verdict.notices[0]
    assert "Landlock" in verdict.notices[0] and "seccomp" in verdict.notices[0]


@pytest.mark.slow
def test_zygote_is_recycled_after_n_jobs_and_replaced_when_it_dies() -> None:
    require_sandbox_machine()
    runner = SandboxRunner(SandboxConfig(recycle_after=2)).start()
    try:
        first = runner.zygote_pid
        assert first is not None
        for _ in range(2):
            assert runner.run(_job()).status == "completed"
        assert runner.zygote_pid == first
        assert runner.run(_job()).status == "completed"
        second = runner.zygote_pid
        assert second not in (None, first)
        assert second is not None
        os.kill(second, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while runner.healthy() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not runner.healthy()
        assert runner.run(_job()).status == "completed"
        assert runner.zygote_pid not in (None, first, second)
    finally:
        runner.close()


@pytest.mark.slow
def test_grader_check_grades_in_the_sandbox_by_default() -> None:
    require_sandbox_machine()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    out = subprocess.run(
        [sys.executable, "-m", "worker.cli", "--exercises", str(COURSE), "check", SLUG, "-",
         "--json"],
        input=WHOAMI.encode(), capture_output=True, check=False, env=env, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr.decode()
    verdict = json.loads(out.stdout)
    assert verdict["score"] == verdict["max_score"]
    assert "uid 1000 host sandbox" in verdict["stdout"]
    assert verdict["notices"] == []


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_job_initialises_cuda_in_the_sandboxed_child(sandbox: SandboxRunner) -> None:
    source = ("import torch\n\ndef double_it(x):\n"
              "    assert x.is_cuda\n    return x * 2\n")
    outcome = sandbox.run(_job(source, device="cuda"))
    assert outcome.status == "completed", outcome
    observation = outcome.observations["c"]
    assert observation.header.error is None, observation.header.error
    assert observation.result is not None
    assert (observation.result.facts.device or "").startswith("cuda")
