"""``scripts/gpu-check``: is this machine's GPU ready to grade? One summary line per item.

Items:

- ``device``     the GPU torch sees (or that there is none), torch's version and CUDA build;
- ``cuda-tests`` tests/gpu and the sandbox's CUDA test: CUDA started in the sandboxed child
                 after fork, what a learner is told about devices (``.cuda()`` on a CPU exercise,
                 a result left on the CPU);
- ``goldens``    ``device-agnostic-normalize`` validated, and every golden (its CUDA-only ones
                 on a GPU) given its verdict;
- ``memory-cap`` the per-job GPU memory cap: an over-allocation ends as ``memory_limit`` and the
                 next job on the card works; learner code cannot raise the cap;
- ``gpu-queue``  ``grader serve`` end to end: submissions to a ``cuda`` exercise go through the
                 ``gpu`` queue and are graded (on the GPU when there is one);
- ``benchmark``  graded/s on the ``gpu`` queue through that service.

Exit status: 0 when every item passed or was skipped for want of a GPU; 1 when any failed; on
a machine without a GPU the GPU-only items are skipped (it says so) and the rest still run.
Needs root (the sandbox) and the project installed in .venv (scripts/bootstrap).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
GRADER = str(Path(PY).parent / "grader")
SLUG = "device-agnostic-normalize"
GOLDEN = ROOT / "exercises" / SLUG / "golden"
CAP_TESTS = "over_allocation or cannot_raise or configured_share"
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Everything ends within 8 minutes: each step's own limit is cut to what is left of this
# budget (less a margin for stopping the service).
BUDGET_S = 450.0
_STARTED = time.monotonic()


def left(limit_s: float) -> float:
    """``limit_s``, or less when the whole run's budget is nearly spent."""
    return max(5.0, min(limit_s, BUDGET_S - (time.monotonic() - _STARTED)))


@dataclass
class Item:
    """One line of the summary."""

    name: str
    status: str  # PASS, FAIL, SKIP
    detail: str
    seconds: float = 0.0

    def line(self) -> str:
        return f"gpu-check: {self.name:<10} {self.status}  {self.detail} ({self.seconds:.0f} s)"


@dataclass
class Device:
    """What torch and the driver report."""

    cuda: bool
    torch_version: str
    cuda_build: str | None
    name: str = ""
    memory_gib: float = 0.0
    driver_gpus: list[str] | None = None


def probe_device() -> Device:
    """Ask torch in a child process (this process never initialises CUDA) and nvidia-smi."""
    code = ("import json, torch\n"
            "ok = torch.cuda.is_available()\n"
            "p = torch.cuda.get_device_properties(0) if ok else None\n"
            "print(json.dumps({'cuda': ok, 'torch': torch.__version__, "
            "'build': torch.version.cuda, 'name': p.name if p else '', "
            "'mem': p.total_memory / 2**30 if p else 0.0}))\n")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    gpus = None
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60,
                             check=False)
        gpus = [line for line in smi.stdout.splitlines() if line.startswith("GPU ")]
    return Device(info["cuda"], info["torch"], info["build"], info["name"], info["mem"], gpus)


def pytest_item(name: str, args: list[str], gpu: bool, timeout_s: float) -> Item:
    """Run pytest; PASS when nothing failed and, on a GPU, no CUDA test was skipped."""
    command = [PY, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args]
    try:
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                             timeout=left(timeout_s), check=False)
    except subprocess.TimeoutExpired:
        return Item(name, "FAIL", f"pytest ran past {timeout_s:g} s")
    text = out.stdout + out.stderr
    summary = next((line.strip("= ") for line in reversed(text.splitlines())
                    if re.search(r"\d+ (passed|failed|skipped|error)", line)), "no summary")
    # -rs lines: "SKIPPED [2] tests/x.py:49: reason" (skips with one reason and place grouped)
    gpu_skips = sum(int(n) for n in re.findall(
        r"SKIPPED \[(\d+)\].*(?:needs an NVIDIA GPU|needs a CUDA GPU|expected only on cuda)",
        text))
    if out.returncode not in (0, 5) or "failed" in summary or "error" in summary:
        print(text[-6000:], file=sys.stderr)
        return Item(name, "FAIL", summary)
    if gpu and gpu_skips:
        return Item(name, "FAIL", f"{summary}; {gpu_skips} CUDA tests skipped on a GPU machine")
    return Item(name, "PASS", summary + ("" if gpu else f" ({gpu_skips} need a GPU)"))


# --- the service ------------------------------------------------------------------------------


class Service:
    """``grader serve`` on a free port with a private Redis and data folder."""

    def __init__(self, concurrency: int) -> None:
        from grader.processes import free_port

        self.data = Path(tempfile.mkdtemp(prefix="grader-gpu-check-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env.update(GRADER_SUBMIT_RATE_LIMIT="100000 per minute",
                   GRADER_API_RATE_LIMIT="100000 per minute", PYTHONUNBUFFERED="1")
        self.log = (self.data / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [GRADER, "serve", "--port", str(self.port), "--data", str(self.data),
             "--concurrency", str(concurrency)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.token = ""

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + left(timeout_s)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"grader serve exited:\n{self.output()}")
            token = self.data / "dev-token"
            if token.exists() and self.request("GET", "/healthz", auth=False)[0] == 200:
                self.token = token.read_text().strip()
                return
            time.sleep(0.5)
        raise RuntimeError(f"grader serve was not ready in {timeout_s:g} s:\n{self.output()}")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                auth: bool = True) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _HTTP.open(request, timeout=60) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except OSError as exc:
            return 0, str(exc)

    def submit(self, code: str, learner: str = "gpu-check") -> str:
        status, body = self.request("POST", "/api/v1/submissions",
                                    {"exercise": SLUG, "code": code, "learner": learner})
        if status != 202:
            raise RuntimeError(f"submission refused: {status} {body}")
        return str(body["id"])

    def result(self, submission_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + left(timeout_s)
        while time.monotonic() < deadline:
            status, body = self.request("GET", f"/api/v1/submissions/{submission_id}?wait=10")
            if status == 200 and body["status"] in ("graded", "failed"):
                return dict(body)
        raise RuntimeError(f"submission {submission_id} not finished in {timeout_s:g} s")

    def output(self) -> str:
        return (self.data / "serve.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


def gpu_queue_item(service: Service, device: Device) -> Item:
    """A correct and a CPU-bound submission through the gpu queue."""
    good = service.result(service.submit((GOLDEN / "new_tensor.py").read_text()), 180)
    if good["queue"] != "gpu" or good["status"] != "graded" or not good["passed"]:
        return Item("gpu-queue", "FAIL", f"the correct submission: {_brief(good)}")
    cpu_bound = service.result(service.submit((GOLDEN / "result_to_cpu.py").read_text()), 120)
    device_check = [c for c in cpu_bound["checks"] if c["name"] == "device"]
    moved = any(not c["passed"] and "moved-to-cpu" in c["misconceptions"] for c in device_check)
    if device.cuda and not moved:  # only on a GPU is leaving the result on the CPU wrong
        return Item("gpu-queue", "FAIL", f"result_to_cpu was not told: {_brief(cpu_bound)}")
    where = "graded on cuda" if moved else "graded on the CPU (no GPU: the gpu queue falls back)"
    return Item("gpu-queue", "PASS", f"grader serve, queue {good['queue']}: correct "
                f"{good['score']:g}/{good['max_score']:g}, result left on the CPU "
                f"{cpu_bound['score']:g}/{cpu_bound['max_score']:g}; {where}")


def benchmark_item(service: Service, n: int, concurrency: int, device: Device) -> Item:
    """``n`` correct submissions at once; graded/s from the first submit to the last verdict."""
    code = (GOLDEN / "new_tensor.py").read_text()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: service.submit(code, f"bench{i % 8}"), range(n)))
        results = list(pool.map(lambda i: service.result(i, 300), ids))
    elapsed = time.monotonic() - started
    graded = sum(r["status"] == "graded" and bool(r["passed"]) for r in results)
    latencies = [r["finished_at"] - r["created_at"] for r in results if r["finished_at"]]
    where = f"on {device.name}" if device.cuda else "CPU fallback, no GPU"
    detail = (f"{graded}/{n} graded in {elapsed:.1f} s = {graded / elapsed:.1f} graded/s on the "
              f"gpu queue ({where}, worker concurrency {concurrency}); latency p50 "
              f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s")
    return Item("benchmark", "PASS" if graded == n else "FAIL", detail)


def _brief(body: dict[str, Any]) -> str:
    failed = [f"{c['name']}: {c['message']}" for c in body.get("checks", []) if not c["passed"]]
    return (f"status {body.get('status')} queue {body.get('queue')} score {body.get('score')}"
            f"/{body.get('max_score')} error {body.get('error')} failed {failed[:3]}")


def timed(name: str, run: Callable[[], Item]) -> Item:
    started = time.monotonic()
    try:
        item = run()
    except Exception as exc:  # one item's failure must not hide the others'
        item = Item(name, "FAIL", f"{type(exc).__name__}: {exc}")
    item.seconds = time.monotonic() - started
    print(item.line(), flush=True)
    return item


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench-n", type=int, default=None,
                        help="submissions in the benchmark (default 60 on a GPU, 20 without)")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="pool processes of the service's worker (default 2)")
    args = parser.parse_args()
    started = _STARTED
    items: list[Item] = []
    if os.geteuid() != 0:
        items.append(Item("sandbox", "FAIL", "run as root: the sandbox needs it"))
        print(items[-1].line())
        return 1

    device = probe_device()
    if device.cuda:
        items.append(Item("device", "PASS", f"{device.name}, {device.memory_gib:.0f} GiB, "
                          f"torch {device.torch_version}, CUDA {device.cuda_build}"))
    elif device.driver_gpus:
        items.append(Item("device", "FAIL",
                          f"nvidia-smi lists {len(device.driver_gpus)} GPU(s) but torch "
                          f"{device.torch_version} cannot use them (CUDA build: "
                          f"{device.cuda_build}); install the CUDA build (README)"))
    else:
        items.append(Item("device", "SKIP", f"no GPU: torch {device.torch_version} sees no "
                          "CUDA device; GPU-only items are skipped, the rest run"))
    print(items[-1].line(), flush=True)
    gpu = device.cuda

    items.append(timed("cuda-tests", lambda: pytest_item(
        "cuda-tests", ["tests/gpu", "-k", f"not ({CAP_TESTS})",
                       "tests/sandbox/test_runner.py::"
                       "test_a_cuda_job_initialises_cuda_in_the_sandboxed_child"], gpu, 240)))
    items.append(timed("goldens", lambda: pytest_item(
        "goldens", ["tests/test_course.py", "-k", SLUG], gpu, 240)))
    if gpu:
        items.append(timed("memory-cap", lambda: pytest_item(
            "memory-cap", ["tests/gpu", "-k", CAP_TESTS], gpu, 180)))
    else:
        items.append(Item("memory-cap", "SKIP", "needs a GPU"))
        print(items[-1].line(), flush=True)

    service = Service(args.concurrency)
    try:
        ready = timed("service", lambda: _ready(service))
        items.append(ready)
        if ready.status == "PASS":
            items.append(timed("gpu-queue", lambda: gpu_queue_item(service, device)))
            n = args.bench_n or (60 if gpu else 20)
            items.append(timed("benchmark", lambda: benchmark_item(
                service, n, args.concurrency, device)))
    finally:
        service.stop()

    failed = [i.name for i in items if i.status == "FAIL"]
    total = time.monotonic() - started
    print("gpu-check: summary")
    for item in items:
        print(item.line())
    if failed:
        print(f"gpu-check: FAILED ({', '.join(failed)}) in {total:.0f} s")
        return 1
    verdict = "GPU ready" if gpu else "no GPU was available; the parts that need none passed"
    print(f"gpu-check: OK, {verdict} ({total:.0f} s)")
    return 0


def _ready(service: Service) -> Item:
    service.wait_ready(240)
    return Item("service", "PASS", f"grader serve answering at {service.base}")


if __name__ == "__main__":
    sys.exit(main())
