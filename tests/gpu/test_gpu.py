"""GPU jobs: the per-job memory cap, CUDA started in the sandboxed child, what a learner is told
about devices. Tests marked ``cuda`` need an NVIDIA GPU and a CUDA build of torch and are
skipped elsewhere; ``scripts/gpu-check`` runs them (and the rest) on a machine with one.

The others run everywhere: the cap's configuration, that every job carries it, that a ``cpu``
job never sees a GPU, and what a ``cuda`` job reports on a worker that has none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import torch

from common.protocol import Verdict
from common.spec import CaseSpec, ExerciseLibrary
from common.submission import source_from_upload
from tests.conftest import ROOT
from tests.sandbox.conftest import require_sandbox_machine
from worker.config import ConfigError, WorkerConfig
from worker.harness.gpu import GpuSetupError, cap_gpu_memory
from worker.pipeline import GraderError, Pipeline
from worker.runner import DEFAULT_GPU_MEMORY_FRACTION, Job, Limits, Runner, RunOutcome
from worker.sandbox import SandboxConfig, SandboxRunner
from worker.sandbox.runner import zygote_environment

HAS_CUDA = torch.cuda.is_available()
cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs an NVIDIA GPU and a CUDA build of torch")
no_cuda = pytest.mark.skipif(HAS_CUDA, reason="what a worker without a GPU does")

SERVICE_COURSE = ExerciseLibrary(ROOT / "tests" / "service" / "course")
SHIPPED = ExerciseLibrary(ROOT)
CASE = CaseSpec.model_validate({"name": "c", "seed": 1, "args": {
    "x": {"gen": "tensor", "shape": [3]}}})
CAP = 0.2  # of the card, in these tests


def _job(source: str, device: str, fraction: float = CAP) -> Job:
    return Job(source=source, function="f", cases=(CASE,), device=device,
               limits=Limits(time_s=20, gpu_memory_fraction=fraction))


@dataclass
class Recording:
    """A real runner that also keeps the jobs it was given."""

    runner: Runner
    jobs: list[Job] = field(default_factory=list)

    def run(self, job: Job) -> RunOutcome:
        self.jobs.append(job)
        return self.runner.run(job)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxRunner]:
    """A strict sandbox with the production memory limit (CUDA needs its address space)."""
    require_sandbox_machine()
    runner = SandboxRunner(SandboxConfig(
        hidden=(SHIPPED.reference_dir, SHIPPED.exercises_dir,
                SERVICE_COURSE.reference_dir, SERVICE_COURSE.exercises_dir)))
    runner.start()
    yield runner
    runner.close()


# -- configuration, everywhere ------------------------------------------------------------------


def test_the_cap_is_configured_from_the_environment() -> None:
    assert WorkerConfig.from_env({}).gpu_memory_fraction == DEFAULT_GPU_MEMORY_FRACTION
    config = WorkerConfig.from_env({"GRADER_GPU_MEMORY_FRACTION": "0.5"})
    assert config.gpu_memory_fraction == 0.5
    for bad in ("0", "1.5", "-0.1", "nan", "half"):
        with pytest.raises(ConfigError, match="GRADER_GPU_MEMORY_FRACTION"):
            WorkerConfig.from_env({"GRADER_GPU_MEMORY_FRACTION": bad})


def test_every_job_carries_the_cap_to_the_harness(sandbox: SandboxRunner) -> None:
    recording = Recording(sandbox)
    pipeline = Pipeline(SERVICE_COURSE, recording, gpu_memory_fraction=0.4)
    verdict = pipeline.grade("add-one", "def add_one(x):\n    return x + 1\n")
    assert verdict.full_marks, verdict
    assert recording.jobs and all(j.limits.gpu_memory_fraction == 0.4 for j in recording.jobs)
    assert json.loads(recording.jobs[0].sandbox_payload(bytes(32)))["gpu_memory_fraction"] == 0.4


def test_a_cap_outside_zero_to_one_is_refused() -> None:
    for bad in (0.0, 1.01, float("nan")):
        with pytest.raises(GpuSetupError, match="not in"):
            cap_gpu_memory(bad)


def test_the_sandbox_passes_on_the_workers_choice_of_gpu(monkeypatch: pytest.MonkeyPatch) -> (
    None
):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert "CUDA_VISIBLE_DEVICES" not in zygote_environment()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    monkeypatch.setenv("GRADER_SECRET_THING", "x")
    environment = zygote_environment()
    assert environment["CUDA_VISIBLE_DEVICES"] == "1"
    assert "GRADER_SECRET_THING" not in environment


# -- devices as the learner meets them, everywhere ------------------------------------------------


def test_a_cpu_job_sees_no_gpu_on_any_worker(sandbox: SandboxRunner) -> None:
    source = ("import os, torch\n\ndef f(x):\n"
              "    print('visible', repr(os.environ.get('CUDA_VISIBLE_DEVICES')))\n"
              "    return torch.tensor([float(torch.cuda.is_available())])\n")
    outcome = sandbox.run(_job(source, "cpu"))
    assert outcome.status == "completed", outcome
    assert "visible ''" in outcome.stdout
    result = outcome.observations["c"].result
    assert result is not None and result.data is not None
    assert result.data.tolist() == [0.0]


def test_calling_cuda_on_a_cpu_exercise_is_told_why_it_failed(sandbox: SandboxRunner) -> None:
    """The same verdict on a worker with a GPU as on one without: the exercise runs on the CPU,
    so ``.cuda()`` fails, and the learner reads torch's reason."""
    pipeline = Pipeline(SERVICE_COURSE, sandbox)
    verdict = pipeline.grade("add-one", "def add_one(x):\n    return (x + 1).cuda()\n")
    assert not verdict.full_marks
    # Told once, on the case (its checks point at it rather than repeat it).
    messages = " ".join([*(c.message for c in verdict.cases),
                         *(c.message for c in verdict.checks if not c.passed)])
    assert "CUDA" in messages, verdict
    assert [c.status for c in verdict.cases] == ["raised"], verdict


@no_cuda
def test_a_cuda_job_on_a_worker_without_a_gpu_says_it_is_the_graders_fault(
    sandbox: SandboxRunner,
) -> None:
    outcome = sandbox.run(_job("def f(x):\n    return x\n", "cuda"))
    assert outcome.status == "load_error", outcome
    assert outcome.load_error is not None
    assert outcome.load_error.type == "GpuUnavailable"
    assert "not your code's fault" in outcome.load_error.message


@dataclass
class OnTheGpu:
    """The real sandbox, sent every job as a ``cuda`` job (what a gpu worker whose GPU is gone
    would do)."""

    runner: Runner

    def run(self, job: Job) -> RunOutcome:
        return self.runner.run(replace(job, device="cuda"))


@no_cuda
def test_a_run_without_its_gpu_fails_the_grading_instead_of_scoring_zero(
    sandbox: SandboxRunner,
) -> None:
    pipeline = Pipeline(SERVICE_COURSE, OnTheGpu(sandbox))
    with pytest.raises(GraderError, match="could not give this run its GPU"):
        pipeline.grade("add-one", "def add_one(x):\n    return x + 1\n")


# -- on a GPU -------------------------------------------------------------------------------------

ALLOCATE = ("import torch\n\ndef f(x):\n"
            "    total = torch.cuda.get_device_properties(x.device).total_memory\n"
            "    big = torch.empty(int(total * {share}), dtype=torch.uint8, device=x.device)\n"
            "    return x + float(big.numel() > 0)\n")


@cuda
def test_over_allocation_fails_cleanly_and_the_next_job_on_the_card_works(
    sandbox: SandboxRunner,
) -> None:
    over = sandbox.run(_job(ALLOCATE.format(share=CAP + 0.1), "cuda"))
    assert over.status == "completed", over
    error = over.observations["c"].header.error
    assert error is not None and error.type == "MemoryError", error
    assert "out of memory" in error.message.lower()
    # The card is free again: the next job may take most of its share.
    under = sandbox.run(_job(ALLOCATE.format(share=CAP * 0.8), "cuda"))
    assert under.status == "completed", under
    observation = under.observations["c"]
    assert observation.header.error is None, observation.header.error
    assert observation.result is not None
    assert (observation.result.facts.device or "").startswith("cuda")


@cuda
def test_learner_code_cannot_raise_its_own_cap(sandbox: SandboxRunner) -> None:
    source = ("import torch\n\ndef f(x):\n"
              "    torch.cuda.set_per_process_memory_fraction(1.0)\n    return x\n")
    outcome = sandbox.run(_job(source, "cuda"))
    error = outcome.observations["c"].header.error
    assert error is not None and "caps each job's GPU memory" in error.message, outcome
    lower = sandbox.run(_job(source.replace("1.0", "0.1"), "cuda"))
    assert lower.observations["c"].header.error is None, lower


@cuda
def test_the_cap_is_the_configured_share_of_the_card(sandbox: SandboxRunner) -> None:
    # Just under the cap fits, just over does not: the cap is this job's, not a default.
    fits = sandbox.run(_job(ALLOCATE.format(share=0.45), "cuda", fraction=0.5))
    assert fits.observations["c"].header.error is None, fits
    refused = sandbox.run(_job(ALLOCATE.format(share=0.3), "cuda", fraction=0.25))
    error = refused.observations["c"].header.error
    assert error is not None and error.type == "MemoryError", refused


def _golden(slug: str, name: str) -> str:
    path = SHIPPED.exercises_dir / slug / "golden" / name
    return source_from_upload(path.name, Path(path).read_bytes())


def _grade(sandbox: SandboxRunner, slug: str, source: str) -> Verdict:
    return Pipeline(SHIPPED, sandbox).grade(slug, source)


@cuda
def test_a_result_left_on_the_cpu_is_told_to_stay_on_the_gpu(sandbox: SandboxRunner) -> None:
    verdict = _grade(sandbox, "device-agnostic-normalize",
                     _golden("device-agnostic-normalize", "result_to_cpu.py"))
    device = [c for c in verdict.checks if c.name == "device" and not c.passed]
    assert device, verdict
    assert "expected a tensor on cuda" in device[0].message and "got one on cpu" in (
        device[0].message)
    assert "moved-to-cpu" in device[0].misconceptions


@cuda
def test_device_agnostic_code_gets_full_marks_on_the_gpu(sandbox: SandboxRunner) -> None:
    verdict = _grade(sandbox, "device-agnostic-normalize",
                     _golden("device-agnostic-normalize", "new_tensor.py"))
    assert verdict.full_marks, verdict
    assert any(c.name == "device" and c.passed for c in verdict.checks)
