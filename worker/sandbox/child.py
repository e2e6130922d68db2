"""What a sandboxed child does between the zygote's fork and the learner's first line.

For each warm child the zygote creates a PID namespace, starts its PID 1 (a tiny reaper, see
:mod:`worker.sandbox.reaper`) and forks the *learner process* into it. The learner process
leaves the zygote's session, keeps only its own descriptors, enters a mount namespace of its own
with a fresh tmpfs as the job folder and pivots into the staged root
(:mod:`worker.sandbox.rootfs`), takes the slot's unprivileged uid, enters new user, network, IPC
and UTS namespaces, drops every capability, sets no_new_privs, restricts itself with Landlock
and seccomp, says it is ready and waits for its job. The zygote is its parent: it reaps it and
reports how it ended.

All of this happens before the job exists, so none of it is on the critical path.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from worker.harness.capture import Capture
from worker.harness.main import serve
from worker.sandbox import landlock, linux
from worker.sandbox.rootfs import JOB_DIR, OLD_ROOT, SANDBOX_UID, RootPlan

SOURCE_NAME = "submission.py"


@dataclass(frozen=True)
class ChildPlan:
    """How every child of one zygote is isolated (decided once, at the zygote's start)."""

    layers: frozenset[str]  # the layers that are on (see worker.sandbox.layers)
    uid: int | None  # the slot's uid outside the namespaces (None: keep the zygote's)
    root: RootPlan
    landlock_abi: int
    seccomp_program: bytes | None
    reaper: tuple[str, str, str] | None  # cat, sh and chroot (worker.sandbox.reaper)
    zygote_pid: int
    base_address_space: int  # the zygote's address space; RLIMIT_AS adds the job's memory to it
    max_processes: int
    max_threads: int
    job_tmpfs_bytes: int
    max_memory_bytes: int | None

    @property
    def staged(self) -> bool:
        """Whether children pivot into the staged root (mount namespace and root on)."""
        return "mountns" in self.layers and bool(self.root.stage)


@dataclass(frozen=True)
class ChildFds:
    """The descriptors the zygote made for one warm child (the child's ends)."""

    setup: int  # the learner process reports "OK" or "E why" here, then closes it
    job: int  # the job arrives here (JSON, then end of file)
    result: int  # frames go out here
    output: int  # a memfd: the learner's stdout and stderr while visible cases run
    hidden_output: int  # a memfd: their stdout and stderr while hidden cases run (never read)
    inputs: int  # a memfd: the job's inputs, which the runner reads back (closed once mapped)
    job_dir: str  # the writable job folder as the learner sees it

    def all(self) -> tuple[int, ...]:
        """Every descriptor the learner process keeps."""
        return (self.setup, self.job, self.result, self.output, self.hidden_output, self.inputs)


def _say(fd: int, line: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, (line.replace("\n", " ") + "\n").encode())


def close_all_except(keep: tuple[int, ...]) -> None:
    """Close every descriptor except ``keep`` and the standard three."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def learner_process(plan: ChildPlan, fds: ChildFds) -> NoReturn:
    """The zygote's forked child (PID 2 of its new PID namespace, PID 1 being the reaper):
    isolate, say ready, then run the job that arrives. Never returns."""
    try:
        _isolate(plan, fds)
        # No rehearsal of the harness here: measured, taking its copy-on-write faults ahead of
        # time cost more CPU per run (~3 ms) than it saved in latency.
        _settle_runtime()
    except BaseException as exc:
        _say(fds.setup, f"E {type(exc).__name__}: {exc}")
        os._exit(71)
    _say(fds.setup, "OK")
    os.close(fds.setup)
    serve(fds.job, fds.result, _preparer(plan, fds.job_dir),
          Capture.of(fds.output, fds.hidden_output), fds.inputs)


def _isolate(plan: ChildPlan, fds: ChildFds) -> None:
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != plan.zygote_pid and os.getppid() != 0:  # 0: the zygote is outside
        os._exit(0)  # the zygote died before we got here
    os.setsid()
    close_all_except(fds.all())
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(fds.output, 1)
    os.dup2(fds.output, 2)
    # fds.output and fds.hidden_output stay open: the harness switches to the hidden capture
    # through them before the first hidden case (see worker.harness.capture).
    # The OOM killer takes sandboxed processes first, never the worker.
    with contextlib.suppress(OSError):
        linux.write_file("/proc/self/oom_score_adj", "1000")
    if plan.staged:
        _enter_staged_root(plan)  # as root, in a mount namespace owned by the host's root
    if plan.uid is not None:
        os.setgroups([])
        os.setresgid(plan.uid, plan.uid, plan.uid)
        os.setresuid(plan.uid, plan.uid, plan.uid)
        # Switching uid made the process non-dumpable, which would leave /proc/self/uid_map
        # owned by root; nothing the learner could exploit depends on it.
        linux.prctl(linux.PR_SET_DUMPABLE, 1)
    _enter_namespaces(plan)
    linux.drop_capabilities()
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    if "landlock" in plan.layers:
        landlock.restrict_self(landlock.Policy(
            read_only=plan.root.landlock_read_only,
            writable=(fds.job_dir,),
            devices=plan.root.devices,
            # The CUDA driver writes its threads' names (seen on an H200); resolved now, after
            # the pivot, so: this process's own threads only. Only where a GPU is bound in.
            writable_files=("/proc/self/task",) if plan.root.gpu else (),
        ), plan.landlock_abi)
    if "seccomp" in plan.layers and plan.seccomp_program:
        linux.load_seccomp(plan.seccomp_program)


def _enter_staged_root(plan: ChildPlan) -> None:
    """A mount namespace of its own: a fresh tmpfs as /job, a /proc of the PID namespace, and
    the staged read-only tree as /, the host's root detached."""
    stage = plan.root.stage
    linux.unshare(linux.CLONE_NEWNS)
    owner = "" if plan.uid is None else f",uid={plan.uid},gid={plan.uid}"
    linux.mount("tmpfs", stage + JOB_DIR, "tmpfs",
                linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
                f"size={plan.job_tmpfs_bytes},nr_inodes=1024,mode=0700{owner}")
    if "pidns" in plan.layers:
        linux.mount("proc", stage + "/proc", "proc",
                    linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    os.chdir(stage)
    linux.pivot_root(".", "." + OLD_ROOT)
    os.chdir("/")
    linux.umount(OLD_ROOT, linux.MNT_DETACH)


def _enter_namespaces(plan: ChildPlan) -> None:
    """User, network, IPC and UTS namespaces, created as the slot's uid so that the user
    namespace owns the other three (the mount and PID namespaces belong to the host's root)."""
    flags = 0
    for layer, flag in (("userns", linux.CLONE_NEWUSER), ("netns", linux.CLONE_NEWNET),
                        ("ipcns", linux.CLONE_NEWIPC), ("utsns", linux.CLONE_NEWUTS)):
        if layer in plan.layers:
            flags |= flag
    if not flags:
        return
    outside_uid, outside_gid = os.getuid(), os.getgid()
    linux.unshare(flags)
    if "userns" in plan.layers:
        linux.write_file("/proc/self/setgroups", "deny")
        linux.write_file("/proc/self/uid_map", f"{SANDBOX_UID} {outside_uid} 1\n")
        linux.write_file("/proc/self/gid_map", f"{SANDBOX_UID} {outside_gid} 1\n")
    if "utsns" in plan.layers:
        linux.sethostname("sandbox")


def _preparer(plan: ChildPlan, job_dir: str) -> Callable[[dict[str, Any]], None]:
    def prepare(job: dict[str, Any]) -> None:
        limits = job["limits"]
        memory = _set_limits(plan, limits, address_space=job.get("device") != "cuda")
        if job.get("device") == "cuda":
            # CUDA reserves ~13 GiB of address space when it starts (measured on an H200), so
            # the harness sets RLIMIT_AS once it has: what is mapped then, plus the allowance.
            job["address_space_after_device"] = memory
        path = os.path.join(job_dir, SOURCE_NAME)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        text = job.pop("source")
        try:
            source = memoryview(text.encode("utf-8"))
            while source:
                source = source[os.write(fd, source):]
        finally:
            os.close(fd)
        # The file is for tracebacks (linecache); the harness compiles the text it has.
        job["source_path"], job["source_text"] = path, text
        os.chdir(job_dir)

    return prepare


def _set_limits(plan: ChildPlan, limits: dict[str, Any], address_space: bool = True) -> int:
    """Apply the job's limits (RLIMIT_AS only with ``address_space``); returns the job's
    memory allowance in bytes."""
    memory = int(limits["memory_bytes"])
    if plan.max_memory_bytes is not None:
        memory = min(memory, plan.max_memory_bytes)
    cpu = math.ceil(float(limits["time_s"])) + 1
    output = int(limits["file_size_bytes"])
    if address_space:
        resource.setrlimit(resource.RLIMIT_AS, (plan.base_address_space + memory,) * 2)
    for which, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (output, output)),
        (resource.RLIMIT_NOFILE, (int(limits["open_files"]),) * 2),
        (resource.RLIMIT_NPROC, (plan.max_processes,) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
        (resource.RLIMIT_MSGQUEUE, (0, 0)),
    ):
        resource.setrlimit(which, value)
    return memory


_CAPPED = """
def set_num_threads(n):
    \"\"\"torch.set_num_threads, capped at the sandbox's CPU allowance.\"\"\"
    real(max(1, min(int(n), cap)))
"""
# Compiled once, in the zygote: each child only runs it.
_CAPPED_CODE = compile(_CAPPED, "<sandbox>", "exec")


def capped_set_num_threads(real: Callable[[int], None], cap: int) -> Callable[[int], None]:
    """``torch.set_num_threads`` capped at ``cap``, made in a namespace of its own: its
    ``__globals__`` (which learner code can read) lead nowhere near the harness."""
    namespace: dict[str, Any] = {"__builtins__": {"max": max, "min": min, "int": int},
                                 "real": real, "cap": cap}
    exec(_CAPPED_CODE, namespace)
    wrapper: Callable[[int], None] = namespace["set_num_threads"]
    return wrapper


def settle_runtime_once(plan: ChildPlan) -> None:
    """What makes a forked interpreter look like a fresh one to the learner and is the same in
    every child: done once, by the zygote, before it forks (each child would copy the pages it
    writes: about 130 page faults a child)."""
    import torch

    torch.set_num_threads = capped_set_num_threads(  # type: ignore[assignment]
        torch.set_num_threads, plan.max_threads)
    # Python ignores SIGXFSZ; a fresh process should die of it at the file size limit (the
    # runner reports output_limit) rather than see a string of EFBIG errors. (The zygote
    # writes no file under a size limit.)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]


def _settle_runtime() -> None:
    """Make the forked interpreter look like a fresh one to the learner (before the job); the
    rest was done once in the zygote (:func:`settle_runtime_once`)."""
    import numpy as np

    np.random.seed()  # a fresh interpreter's NumPy seeds itself from the OS; forks would share
