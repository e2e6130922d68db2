"""Grading latency and throughput: the sandbox against the naive runner (not a test).

Grades the same tiny submission N times, end to end through ``Pipeline.grade`` (syntax check,
cached reference observations, the runner: one call for visible and hidden cases through the
sandbox, two through the naive runner; checks, verdict), (a) through the sandbox
(:class:`~worker.sandbox.SandboxRunner`, every layer on, strict) and (b) the naive way
(:class:`~worker.process_runner.ProcessRunner`: a fresh Python that imports torch per run).
For each: p50/p90 latency per submission and submissions per second, one at a time and with
one submission in flight per core (one worker process per core, each with its own slot),
then the ratios. It also times the bare runner (one ``run()`` of the visible cases) and says
where a submission's time goes.

    python benchmarks/sandbox.py                       # the tiny test exercise, N=200
    python benchmarks/sandbox.py --n 100 --naive-n 6
    python benchmarks/sandbox.py --course . --exercise share-from-numpy \\
        --submission exercises/share-from-numpy/golden/as_tensor.py

Setup (starting zygotes, importing torch) is excluded from every timing. Numbers depend on what
else the machine runs: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY = "import torch\n\n\ndef double_it(x):\n    return x * 2\n"


@dataclass
class Series:
    """Latencies (seconds) of one measured series and the wall time it took."""

    latencies: list[float]
    wall: float

    def p(self, q: float) -> float:
        """The q-quantile latency, in milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    @property
    def rate(self) -> float:
        """Submissions per second."""
        return len(self.latencies) / self.wall


class TimedRunner:
    """Wraps a runner to add up the time spent in ``run()``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spent = 0.0

    @property
    def separates_hidden_output(self) -> bool:
        """As the wrapped runner's (one run per submission when true)."""
        return bool(getattr(self.inner, "separates_hidden_output", False))

    def run(self, job: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.run(job)
        finally:
            self.spent += time.perf_counter() - start


def _setup(kind: str, args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    from common.spec import ExerciseLibrary
    from worker.pipeline import Pipeline
    from worker.process_runner import ProcessRunner

    library = ExerciseLibrary(args.course)
    exercise = library.load(args.exercise)
    source = Path(args.submission).read_text() if args.submission else TINY
    if kind == "sandbox":
        from worker.sandbox import SandboxConfig, SandboxRunner

        runner: Any = SandboxRunner(SandboxConfig(warm=args.warm)).start()
    else:
        runner = ProcessRunner()
    return Pipeline(library, TimedRunner(runner)), exercise, runner, source


def _grade_series(pipeline: Any, exercise: Any, source: str, n: int) -> Series:
    latencies = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        verdict = pipeline.grade(exercise, source)
        latencies.append(time.perf_counter() - t)
        if not verdict.full_marks:
            raise SystemExit(f"the benchmark submission did not get full marks: {verdict}")
    return Series(latencies, time.perf_counter() - start)


def _worker(kind: str, args: argparse.Namespace, n: int, barrier: Barrier,
            results: Any) -> None:
    pipeline, exercise, runner, source = _setup(kind, args)
    for _ in range(args.warmup if kind == "sandbox" else 1):
        pipeline.grade(exercise, source)
    barrier.wait()
    series = _grade_series(pipeline, exercise, source, n)
    results.put((series.latencies, series.wall))
    if kind == "sandbox":
        runner.close()


def _parallel(kind: str, args: argparse.Namespace, per_worker: int) -> Series:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(args.cores + 1)
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(kind, args, per_worker, barrier, results))
               for _ in range(args.cores)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    collected = [results.get() for _ in workers]
    wall = time.perf_counter() - start
    for w in workers:
        w.join()
    return Series([x for latencies, _ in collected for x in latencies], wall)


def _zygote_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_sandbox(args: argparse.Namespace) -> dict[str, Any]:
    """One at a time: end to end, bare runner, and where the time goes."""
    from worker.runner import Job, Limits

    pipeline, exercise, runner, source = _setup("sandbox", args)
    for _ in range(args.warmup):
        pipeline.grade(exercise, source)
    timed: TimedRunner = pipeline.runner
    timed.spent = 0.0
    cpu_host, cpu_sandbox = _own_cpu(), _zygote_cpu(runner.zygote_pid)
    series = _grade_series(pipeline, exercise, source, args.n)
    in_runner = timed.spent / args.n
    time.sleep(0.5)  # let the last replacements be prepared and reaped
    cpu = ((_own_cpu() - cpu_host) / args.n, (_zygote_cpu(runner.zygote_pid) - cpu_sandbox)
           / args.n)
    visible = tuple(c for c in exercise.cases if c.visible)
    job = Job(source=source, function=exercise.function, cases=visible,
              limits=Limits(time_s=exercise.time_limit_s))
    bare = []
    for _ in range(args.n):
        t = time.perf_counter()
        outcome = runner.run(job)
        bare.append(time.perf_counter() - t)
        assert outcome.status == "completed", outcome
    layers = dict(runner.layers)
    landlock = runner.landlock
    runner.close()
    return {"series": series, "bare": Series(bare, sum(bare)), "in_runner": in_runner,
            "cpu": cpu, "layers": layers, "landlock": landlock}


def measure_naive(args: argparse.Namespace) -> Series:
    """The naive way, one at a time."""
    pipeline, exercise, _, source = _setup("naive", args)
    pipeline.grade(exercise, source)
    return _grade_series(pipeline, exercise, source, args.naive_n)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:6.1f}x"


def _line(label: str, s: Series) -> str:
    return (f"  {label:<34} p50 {s.p(0.5):8.1f} ms   p90 {s.p(0.9):8.1f} ms   "
            f"{s.rate:7.1f} submissions/s")


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="sandboxed submissions per series")
    parser.add_argument("--naive-n", type=int, default=6, help="naive submissions per series")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2,
                        help="submissions in flight in the parallel series (one per core)")
    parser.add_argument("--warm", type=int, default=3, help="pre-forked children per slot")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured submissions first")
    parser.add_argument("--course", default=str(ROOT / "tests" / "sandbox" / "course"))
    parser.add_argument("--exercise", default="double-it")
    parser.add_argument("--submission", default="", help="default: a correct double_it")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--micro-n", type=int, default=2000,
                        help="repetitions of the per-case integrity measurement")
    args = parser.parse_args(argv)

    print(f"machine: {os.cpu_count()} cores, load average before {os.getloadavg()}")
    print(f"exercise: {args.exercise} ({args.course}); {args.n} sandboxed, {args.naive_n} naive")
    sandbox = measure_sandbox(args)
    missing = {k: v for k, v in sandbox["layers"].items() if v is not None}
    print(f"sandbox layers: {missing or 'all on'} (Landlock {sandbox['landlock']})")
    parallel = _parallel("sandbox", args, max(1, args.n // args.cores))
    naive = naive_parallel = None
    if not args.skip_naive:
        naive = measure_naive(args)
        naive_parallel = _parallel("naive", args, max(1, args.naive_n // args.cores))
    series: Series = sandbox["series"]
    host_cpu, sandbox_cpu = sandbox["cpu"]
    print("\nsandbox (SandboxRunner, strict)")
    print(_line("end to end, one at a time", series))
    print(_line(f"end to end, {args.cores} in flight", parallel))
    print(_line("bare runner (visible cases), one", sandbox["bare"]))
    per = statistics.mean(series.latencies) * 1e3
    print(f"  where a submission's {per:.1f} ms (mean) go: {sandbox['in_runner'] * 1e3:.1f} ms in "
          f"the runner, {per - sandbox['in_runner'] * 1e3:.1f} ms in the pipeline "
          f"(syntax check, cached reference, checks, verdict)")
    print(f"  CPU per submission: {host_cpu * 1e3:.1f} ms in the grading process, "
          f"{sandbox_cpu * 1e3:.1f} ms in the zygote and its children (preparing the "
          f"child, running and ending it)")
    if naive is not None and naive_parallel is not None:
        print("\nnaive (ProcessRunner: fresh Python + import torch per run)")
        print(_line("end to end, one at a time", naive))
        print(_line(f"end to end, {args.cores} in flight", naive_parallel))
        print("\nratios (sandbox vs naive)")
        print(f"  p50 latency, one at a time       {_ratio(naive.p(0.5), series.p(0.5))} faster")
        print(f"  throughput, one at a time        {_ratio(series.rate, naive.rate)}")
        print(f"  throughput, {args.cores} in flight           "
              f"{_ratio(parallel.rate, naive_parallel.rate)}")
    print("\nintegrity machinery, CPU per case (learner thread, hook, profiler, snapshot check)")
    for label, micros in integrity_cost(args.micro_n):
        print(f"  {label:<46} {micros:8.1f} us")
    print(f"\nload average after {os.getloadavg()}")
    return 0


def integrity_cost(n: int) -> list[tuple[str, float]]:
    """CPU per case of what the harness does to keep learner code away from it, against the
    plain inline call it replaced: measured in this process, on CPU time, so that other load
    on the machine (which makes the end-to-end p50 noisy) does not count. Installs the audit
    hook in this process for good, so it runs last."""
    from common.spec import CaseSpec
    from worker.cases import build_inputs
    from worker.harness import main as harness
    from worker.harness import tripwire
    from worker.invocation import call, invoke, observe
    from worker.observation import Encoder, rng_states

    case = CaseSpec.model_validate({"name": "c", "seed": 1, "args": {
        "x": {"gen": "tensor", "shape": [3]}}})
    inputs = build_inputs(case, "cpu")

    def fn(x: Any) -> Any:
        return x * 2

    def timed(work: Any) -> float:
        work()
        start = time.process_time()
        for _ in range(n):
            work()
        return (time.process_time() - start) / n * 1e6

    owner = os.getpid()

    def guarded() -> Any:
        encoder = Encoder(1 << 20)
        before = {k: encoder.encode(v, with_data=False) for k, v in inputs.items()}
        rng = rng_states()
        raw = harness._on_learner_thread(lambda: call(fn, inputs, ()), owner)[1]
        return observe(raw, "c", inputs, before, rng, encoder)

    snapshot = harness._snapshot()
    results = [("inline call and observation (before)",
                timed(lambda: invoke(fn, "c", inputs, (), 1 << 20))),
               ("on a learner thread", timed(guarded))]
    profile = tripwire.install({"/nowhere/submission.py"}, lambda event, where: None)
    sys.setprofile(profile)
    try:
        results.append(("... with the audit hook and the profiler", timed(guarded)))
        results.append(("snapshot check (with the profiler)",
                        timed(lambda: harness._intact(snapshot))))
    finally:
        sys.setprofile(None)
    return results


if __name__ == "__main__":
    sys.exit(main())
