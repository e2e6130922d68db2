"""What a sandboxed child does between the zygote's fork and the learner's first line.

The zygote forks a *keeper* for each warm child. The keeper leaves the zygote's session, keeps
only its own descriptors, takes the slot's unprivileged uid, enters new user, mount, network,
IPC, UTS and PID namespaces, mounts a fresh tmpfs as the job folder and pivots into the staged
root (:mod:`worker.sandbox.rootfs`). It then starts the namespace's PID 1, a tiny reaper (``cat``
reading a pipe only the keeper holds, with SIGCHLD ignored so the kernel reaps the orphans it
inherits; it exits, taking the whole namespace with it, when the keeper goes), and forks the
*learner process*. The learner process mounts a namespace-local ``/proc``, drops the old root and
every capability, sets no_new_privs, restricts itself with Landlock and seccomp, says it is ready,
and waits for its job. The keeper waits for it and reports how it ended on the status pipe.

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

from worker.harness.main import serve
from worker.harness.warmup import rehearse
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
    reaper: str | None  # the PID 1 program (with the PID namespace)
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

    setup: int  # the keeper and the learner process report progress here
    job: int  # the job arrives here (JSON, then end of file)
    result: int  # frames go out here
    status: int  # the keeper writes the learner process's wait status here
    output: int  # a memfd: the learner's stdout and stderr
    job_dir: str  # the writable job folder as the learner sees it

    def all(self) -> tuple[int, ...]:
        """Every descriptor the keeper keeps."""
        return (self.setup, self.job, self.result, self.status, self.output)


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


def keeper(plan: ChildPlan, fds: ChildFds, zygote_pid: int) -> NoReturn:
    """The zygote's forked child: isolate, start PID 1 and the learner process, wait, report."""
    code = 0
    try:
        code = _keeper(plan, fds, zygote_pid)
    except BaseException as exc:
        _say(fds.setup, f"E {type(exc).__name__}: {exc}")
        code = 70
    os._exit(code)


def _keeper(plan: ChildPlan, fds: ChildFds, zygote_pid: int) -> int:
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote_pid:
        return 0  # the zygote is gone already
    os.setsid()
    close_all_except(fds.all())
    # The OOM killer takes sandboxed processes first, never the worker.
    with contextlib.suppress(OSError):
        linux.write_file("/proc/self/oom_score_adj", "1000")
    if plan.uid is not None:
        os.setgroups([])
        os.setresgid(plan.uid, plan.uid, plan.uid)
        os.setresuid(plan.uid, plan.uid, plan.uid)
        # Switching uid made the process non-dumpable, which would leave /proc/self/uid_map
        # owned by root; nothing the learner could exploit depends on it.
        linux.prctl(linux.PR_SET_DUMPABLE, 1)
    _enter_namespaces(plan)
    reaper_w = -1
    reaper_pid = 0
    if "pidns" in plan.layers and plan.reaper:
        reaper_pid, reaper_w = _start_reaper(plan.reaper)
        _say(fds.setup, f"R {reaper_pid}")
    me = os.getpid()
    learner = os.fork()
    if learner == 0:
        learner_process(plan, fds, reaper_w, me)
    _say(fds.setup, f"L {learner}")
    for fd in (fds.setup, fds.job, fds.result, fds.output):
        os.close(fd)
    _, status = os.waitpid(learner, 0)
    _say(fds.status, str(status))
    if reaper_pid:
        with contextlib.suppress(OSError):
            os.kill(reaper_pid, signal.SIGKILL)
            os.waitpid(reaper_pid, 0)
    return 0


def _enter_namespaces(plan: ChildPlan) -> None:
    flags = 0
    for layer, flag in (("userns", linux.CLONE_NEWUSER), ("mountns", linux.CLONE_NEWNS),
                        ("netns", linux.CLONE_NEWNET), ("ipcns", linux.CLONE_NEWIPC),
                        ("utsns", linux.CLONE_NEWUTS), ("pidns", linux.CLONE_NEWPID)):
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
    if plan.staged:
        stage = plan.root.stage
        # The copied tree's mounts are locked in this user namespace and pivot_root refuses a
        # locked new root: bind it onto itself to get a mount of our own.
        linux.mount(stage, stage, None, linux.MS_BIND | linux.MS_REC)
        linux.mount("tmpfs", stage + JOB_DIR, "tmpfs",
                    linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
                    f"size={plan.job_tmpfs_bytes},nr_inodes=1024,mode=0700")
        os.chdir(stage)
        linux.pivot_root(".", "." + OLD_ROOT)
        os.chdir("/")


def _start_reaper(program: str) -> tuple[int, int]:
    """PID 1 of the new namespace: ``cat`` on a pipe whose only writer is the keeper."""
    read_end, write_end = os.pipe()
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # inherited through exec
    try:
        pid = os.posix_spawn(program, [program], {}, file_actions=[
            (os.POSIX_SPAWN_DUP2, read_end, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ])
    finally:
        signal.signal(signal.SIGCHLD, previous)
        os.close(read_end)
    return pid, write_end


def learner_process(plan: ChildPlan, fds: ChildFds, reaper_w: int, keeper_pid: int) -> NoReturn:
    """Finish the isolation, report ready, then run the job that arrives (never returns)."""
    try:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() not in (0, keeper_pid):  # 0: the keeper is outside our PID namespace
            os._exit(0)  # the keeper died before we got here
        if reaper_w >= 0:
            os.close(reaper_w)
        os.close(fds.status)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(fds.output, 1)
        os.dup2(fds.output, 2)
        os.close(fds.output)
        _finish_mounts(plan)
        linux.drop_capabilities()
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        if "landlock" in plan.layers:
            landlock.restrict_self(landlock.Policy(
                read_only=plan.root.landlock_read_only,
                writable=(fds.job_dir,),
                devices=plan.root.devices,
            ), plan.landlock_abi)
        if "seccomp" in plan.layers and plan.seccomp_program:
            linux.load_seccomp(plan.seccomp_program)
        # Take the copy-on-write faults now, not while the learner's job waits.
        rehearse(decode_too=False)
        _settle_runtime(plan)
    except BaseException as exc:
        _say(fds.setup, f"E {type(exc).__name__}: {exc}")
        os._exit(71)
    _say(fds.setup, "OK")
    os.close(fds.setup)
    serve(fds.job, fds.result, _preparer(plan, fds.job_dir))


def _finish_mounts(plan: ChildPlan) -> None:
    if not plan.staged:
        return
    if "pidns" in plan.layers:
        # A /proc that shows this namespace's processes only (the mount needs the old root's
        # /proc still attached, so that the kernel sees nothing new is revealed).
        with contextlib.suppress(OSError):
            linux.mount("proc", "/proc", "proc",
                        linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    linux.umount(OLD_ROOT, linux.MNT_DETACH)


def _preparer(plan: ChildPlan, job_dir: str) -> Callable[[dict[str, Any]], None]:
    def prepare(job: dict[str, Any]) -> None:
        limits = job["limits"]
        _set_limits(plan, limits)
        path = os.path.join(job_dir, SOURCE_NAME)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(job.pop("source"))
        job["source_path"] = path
        os.chdir(job_dir)

    return prepare


def _set_limits(plan: ChildPlan, limits: dict[str, Any]) -> None:
    memory = int(limits["memory_bytes"])
    if plan.max_memory_bytes is not None:
        memory = min(memory, plan.max_memory_bytes)
    cpu = math.ceil(float(limits["time_s"])) + 1
    output = int(limits["file_size_bytes"])
    for which, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (plan.base_address_space + memory,) * 2),
        (resource.RLIMIT_FSIZE, (output, output)),
        (resource.RLIMIT_NOFILE, (int(limits["open_files"]),) * 2),
        (resource.RLIMIT_NPROC, (plan.max_processes,) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
        (resource.RLIMIT_MSGQUEUE, (0, 0)),
    ):
        resource.setrlimit(which, value)


def _settle_runtime(plan: ChildPlan) -> None:
    """Make the forked interpreter look like a fresh one to the learner (before the job)."""
    import numpy as np
    import torch

    np.random.seed()  # a fresh interpreter's NumPy seeds itself from the OS; forks would share
    real = torch.set_num_threads

    def set_num_threads(n: int) -> None:
        """torch.set_num_threads, capped at the sandbox's CPU allowance."""
        real(max(1, min(int(n), plan.max_threads)))

    torch.set_num_threads = set_num_threads  # type: ignore[assignment]
    # Python ignores SIGXFSZ; a fresh process should die of it at the file size limit (the
    # runner reports output_limit) rather than see a string of EFBIG errors.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
