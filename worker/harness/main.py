"""The code that runs next to the learner's: load the submission, run each case, send frames.

Two ways in: ``python -m worker.harness FD`` (the job as JSON on stdin; used by
:class:`~worker.process_runner.ProcessRunner`), and :func:`serve`, which the sandbox's
pre-forked child calls with the job on a pipe.

How it keeps learner code away from itself (see ``docs/sandbox.md``, "Tampering"):

- every case's inputs are built, and everything the harness calls afterwards captured, before
  the learner's code is loaded;
- the learner's code (loading, each call, the probes that run its code) runs on a fresh thread
  started from C, so its stack holds no harness frame, and signal handlers (which receive
  frames, and run on the main thread only) cannot be installed;
- the harness leaves ``sys.modules`` and ``__main__`` before the code loads;
- the tripwire (:mod:`worker.harness.tripwire`) ends the run on introspection, and on learner
  code running on the harness's thread;
- frames are sealed with a per-run key that lives only in the writer's closure;
- after each case the module and class dictionaries the harness relies on are compared with a
  snapshot taken before the code loaded.
"""

from __future__ import annotations

import _thread
import builtins
import contextlib
import itertools
import json
import operator
import os
import re
import resource
import signal
import sys
import types
from collections.abc import Callable
from typing import Any, NoReturn

import torch
from pydantic import TypeAdapter

from common.spec import CaseSpec
from common.spec.generators import Argument
from worker import invocation, observation, shared_inputs
from worker.harness import frames, tripwire
from worker.harness.capture import Capture, CaptureError
from worker.harness.gpu import GPU_UNAVAILABLE, GpuSetupError, gpu_share_bytes, prepare_device
from worker.invocation import call, error_facts, observe
from worker.observation import Encoder, rng_states

SUBMISSION_MODULE = "submission"
EXIT_TAMPERING = 86

# Captured before learner code runs: a learner replacing them changes nothing here.
_getpid = os.getpid
_exit = os._exit
_flush_stdout = sys.stdout.flush
_flush_stderr = sys.stderr.flush
_start_thread = _thread.start_new_thread
_allocate_lock = _thread.allocate_lock
_untyped_storage = torch.Tensor.untyped_storage
_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
_setprofile = sys.setprofile
_modules = sys.modules
_all, _len, _map, _is, _repeat = all, len, map, operator.is_, itertools.repeat

_ARGUMENT: TypeAdapter[Any] = TypeAdapter(Argument)

# Allocation failures that torch and NumPy report with their own exception types.
_OUT_OF_MEMORY = re.compile(
    r"can't allocate memory|not enough memory|out of memory|cannot allocate memory|"
    r"std::bad_alloc", re.IGNORECASE)


def load_submission(path: str, source: str | None = None) -> types.ModuleType:
    """Execute the learner's source (``source``, or read from ``path``, its file name either
    way) as the module ``submission``."""
    if source is None:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
    module = types.ModuleType(SUBMISSION_MODULE)
    module.__file__ = path
    sys.modules[SUBMISSION_MODULE] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def mapped_bytes() -> int | None:
    """The address space this process maps now (VmSize), if the kernel says."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return None


def limit_address_space(allowance: int) -> None:
    """RLIMIT_AS at what this process maps now plus ``allowance`` bytes (for a ``cuda`` job,
    once CUDA has reserved its address space)."""
    mapped = mapped_bytes()
    if mapped is not None:
        resource.setrlimit(resource.RLIMIT_AS, (mapped + allowance,) * 2)


def normalise_memory_error(error: dict[str, Any] | None) -> None:
    """Report running out of memory as ``MemoryError`` whatever library raised it (NumPy's
    ``_ArrayMemoryError``, torch's allocator ``RuntimeError``), so the learner is told
    ``memory_limit`` rather than a stray exception; and CUDA's start failing in a CPU job
    as what it is."""
    if not error or error.get("type") == "MemoryError":
        return
    kind = str(error.get("type", ""))
    message = str(error.get("message", ""))
    if "cudaGetDeviceCount" in message:
        # `.cuda()` in a CPU job on a GPU worker: the driver, finding no visible device under
        # the address-space limit, reports running out of memory; the truth is simpler.
        error["message"] = ("No CUDA GPUs are available: this exercise runs on the CPU, so "
                            f"your code sees no GPU (torch said: {message[:300]})")
        return
    if kind.endswith("MemoryError") or (
        kind in ("RuntimeError", "OutOfMemoryError") and _OUT_OF_MEMORY.search(
            str(error.get("message", "")))
    ):
        error["message"] = f"{kind}: {error.get('message', '')}"[:2000]
        error["type"] = "MemoryError"


def _flush() -> None:
    for flush in (_flush_stdout, _flush_stderr):
        # The learner may have closed or replaced the stream; their output is theirs to lose.
        with contextlib.suppress(BaseException):
            flush()


def _on_learner_thread(task: Callable[[], Any], owner: int) -> tuple[bool, Any]:
    """Run ``task`` on a fresh thread (started from C: no harness frame below it) and wait.
    Returns (True, value) or (False, exception). A process the learner forked never returns
    into the harness."""
    box: list[Any] = []
    done = _allocate_lock()
    done.acquire()

    def run() -> None:
        try:
            box.append((True, task()))
        except BaseException as exc:
            box.append((False, exc))
        finally:
            if _getpid() != owner:
                _exit(0)
            done.release()

    _start_thread(run, ())
    done.acquire()
    return box[0]  # type: ignore[no-any-return]


Snapshot = list[tuple[Callable[[], dict[str, Any]], dict[str, Any]]]


def _held(space: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: space


def _snapshot() -> Snapshot:
    """The dictionaries whose contents the harness's code looks up at call time (modules'
    globals, the builtins, the encoder's class), with copies to compare against by identity."""
    spaces = [_held(space) for space in (builtins.__dict__, observation.__dict__,
                                         invocation.__dict__, frames.__dict__, globals())]
    spaces += [lambda: dict(vars(Encoder))]  # a class's own dict cannot be held: copy it
    return [(get, dict(get())) for get in spaces]


def _intact(snapshot: Snapshot) -> bool:
    # Every key still holds the very same object. The loop over keys runs in C (map,
    # operator.is_): in Python, the profile function on this thread would run twice per key.
    for get, copy in snapshot:
        live = get()
        if _len(live) != _len(copy) or not _all(
                _map(_is, _map(live.get, copy.keys(), _repeat(live)), copy.values())):
            return False
    return True


def _cases(raw: list[dict[str, Any]], slots: tuple[shared_inputs.Slot, ...]) -> list[CaseSpec]:
    """The job's cases, as the runner validated them: only the arguments built here (not laid
    out in shared memory) go through their schema again (pydantic is slow in a fresh child)."""
    slotted = {(slot.case, slot.name) for slot in slots}
    return [CaseSpec.model_construct(
        name=str(case["name"]), visible=bool(case.get("visible", False)),
        seed=int(case.get("seed", 0)),
        args={name: value if (case["name"], name) in slotted else _ARGUMENT.validate_python(value)
              for name, value in case.get("args", {}).items()},
    ) for case in raw]


def _leave_sys_modules() -> None:
    """Take the grader's modules out of ``sys.modules`` and give ``__main__`` an empty module:
    learner code cannot import them (the sandbox has no copy to import) or find them there."""
    if "worker" in _modules:  # the sandbox's zygote took them out already, once for all
        for name in [n for n in _modules if n == "worker" or n.startswith("worker.")]:
            del _modules[name]
    _modules["__main__"] = types.ModuleType("__main__")


def run_job(job: dict[str, Any], fd: int, capture: Capture | None = None,
            inputs_fd: int | None = None) -> None:
    """Run every case of the job, streaming one sealed frame per event to ``fd``. With a
    ``capture``, the visible cases (which come first) and the hidden ones write their output
    to separate captures (see :mod:`worker.harness.capture`)."""
    owner = _getpid()
    write = frames.make_writer(bytes.fromhex(job.pop("key")), fd)
    source_path = job["source_path"]
    source_text = job.pop("source_text", None)  # as written to source_path, if the job has it
    device = job["device"]
    # Before "ready": starting CUDA for a cuda job takes a while, and is not the learner's time.
    try:
        prepare_device(job)
    except GpuSetupError as exc:
        write({"type": "ready"}, [])
        write({"type": "load_error", "error": {
            "type": GPU_UNAVAILABLE, "traceback": "",
            "message": f"the grader could not give this run its GPU ({exc}); this is not "
                       "your code's fault, please submit again later"}}, [])
        return
    if "address_space_after_device" in job:
        # Device allocations are mapped into the process too (unified addressing): the job's
        # share of its cards comes on top of its host memory.
        limit_address_space(int(job.pop("address_space_after_device"))
                            + gpu_share_bytes(float(job["gpu_memory_fraction"])))
    max_bytes = int(job["max_observation_bytes"])
    # Every input exists before the learner's code does: no generator it could patch. The
    # ones the runner laid out in shared memory are made over it (worker.shared_inputs), and
    # numbers found there after a call are referred to, not sent.
    slots = tuple(shared_inputs.Slot.from_list(s) for s in job.get("shared_inputs", ()))
    cases = _cases(job["cases"], slots)
    inputs, regions = shared_inputs.build(cases, device, slots, inputs_fd)
    probes = {case.name: tuple(job["probes"].get(case.name, ())) for case in cases}
    learner_files = {source_path}
    lock = _allocate_lock()

    def send(header: dict[str, Any], arrays: list[Any] | None = None) -> None:
        with lock:
            write(header, arrays or [])

    def trip(event: str, where: str) -> None:
        # From inside the audit hook or the profiler, on whatever thread: report and end now.
        with contextlib.suppress(BaseException):
            if lock.acquire(timeout=1.0):
                write({"type": "tampering", "event": event[:200], "where": where[:200]}, [])
        _exit(EXIT_TAMPERING)

    snapshot = _snapshot()
    _leave_sys_modules()
    profile = tripwire.install(learner_files, trip)
    _setprofile(profile)
    send({"type": "ready"})  # the time limit starts now, not at interpreter start
    loaded, module = _on_learner_thread(lambda: load_submission(source_path, source_text),
                                        owner)
    if not loaded:
        facts = _on_learner_thread(lambda: error_facts(module, source_path), owner)[1]
        normalise_memory_error(facts)
        send({"type": "load_error", "error": facts})
        return
    fn = module.__dict__.get(job["function"])
    if not callable(fn):
        what = "does not define" if fn is None else "defines something that is not a function,"
        error = {
            "type": "MissingFunction",
            "message": f"your code {what} `{job['function']}`",
            "traceback": "",
        }
        send({"type": "load_error", "error": error})
        return
    send({"type": "loaded"})
    shown = False
    for case in cases:
        if case.visible:
            shown = True
        elif shown and capture is not None:
            # Everything the visible cases printed is in the visible capture before it closes.
            _flush()
            try:
                capture.switch_to_hidden()
            except CaptureError as exc:
                trip(str(exc), "your code")
            send({"type": "hidden"})
            shown = False
        send({"type": "start", "case": case.name})
        args = inputs.pop(case.name)
        encoder = Encoder(max_bytes, regions)
        before = {n: encoder.encode(v, with_data=False) for n, v in args.items()}
        # The inputs' storage stays alive until observed, so that an input re-pointed during
        # the call (`x.data = ...`, `x.set_(...)`) cannot have its old address reused.
        kept = [_untyped_storage(v) for v in args.values() if type(v) in _TENSOR_TYPES]
        rng_before = rng_states()

        def task(args: dict[str, Any] = args, name: str = case.name) -> dict[str, Any]:
            return call(fn, args, probes[name], source_path)

        raw = _on_learner_thread(task, owner)[1]
        header = observe(raw, case.name, args, before, rng_before, encoder)
        normalise_memory_error(header.get("error"))
        if not _intact(snapshot):
            trip("the grader's code was modified", "your code")
        send({"type": "case", "observation": header}, encoder.arrays)
        del kept, raw, args
    # Output first: the runner may end the process as soon as it reads "done".
    _flush()
    send({"type": "done"})


def serve(job_fd: int, result_fd: int, prepare: Callable[[dict[str, Any]], None],
          capture: Capture | None = None, inputs_fd: int | None = None) -> NoReturn:
    """Read one job (JSON, to end of file) from ``job_fd``, let ``prepare`` set the process up for
    it (limits, the source file), run it (with ``capture``: see :func:`run_job`), and exit
    without running the learner's atexit handlers or waiting for their threads."""
    try:
        chunks = []
        while chunk := os.read(job_fd, 1 << 20):
            chunks.append(chunk)
        os.close(job_fd)
        if not chunks:
            _exit(0)  # no job: the runner went away
        job = json.loads(b"".join(chunks))
        del chunks
        prepare(job)
        _quiet_signals()
        run_job(job, result_fd, capture, inputs_fd)
    finally:
        _flush()
        _exit(0)


def _quiet_signals() -> None:
    # SIGINT at its default: `_thread.interrupt_main()` from learner code then does nothing,
    # rather than raising KeyboardInterrupt inside the harness.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def main() -> None:
    """Run the job read from stdin; exit without running the learner's atexit handlers."""
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.read())
    torch.set_num_threads(1)
    # Python ignores SIGXFSZ; at the file size limit the process must die of it, so that the
    # runner reports output_limit, not a string of EFBIG errors in the learner's code.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    _quiet_signals()
    try:
        run_job(job, fd)
    finally:
        _flush()
        # Threads or atexit handlers the learner left behind must not keep the process alive.
        _exit(0)
