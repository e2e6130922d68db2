"""The warm process a runner forks learner sandboxes from: ``python -m worker.sandbox.zygote``.

It starts with a scrubbed environment and no descriptors but its control socket, imports torch,
NumPy, OpenCV and the harness once, caps torch at one thread, and never runs a parallel operation
or touches CUDA (a fork after either is unsafe). It then keeps ``warm`` children forked and
isolated ahead of time (see :mod:`worker.sandbox.child`) and hands each one's descriptors to the
runner. It never sees a job: those go from the runner to the child directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import select
import shutil
import signal
import socket
import stat
import sys
import tempfile
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from worker.harness.gpu import gpu_devices_present, hide_gpus
from worker.harness.main import mapped_bytes
from worker.harness.warmup import rehearse
from worker.sandbox import control, layers, linux, reaper, rootfs
from worker.sandbox.child import ChildFds, ChildPlan, learner_process, settle_runtime_once

DEFAULT_PRELOAD = (
    "torch", "torch.nn", "torch.nn.functional", "torch.autograd", "torch.utils.data",
    # An optimizer's first step() imports torch._dynamo (seconds of work, measured 3.6 s on a
    # busy machine): done once here, it no longer eats into every learner's time limit.
    "torch.optim", "torch._dynamo",
    "numpy", "numpy.linalg", "numpy.fft", "numpy.random", "cv2",
    "math", "random", "itertools", "functools", "collections", "typing", "dataclasses",
    "ctypes", "threading", "json", "io",
    "worker.harness.main", "worker.harness.warmup", "worker.observation", "worker.invocation",
    "worker.cases",
)
PIPE_BYTES = 1 << 20


@dataclass
class _Child:
    id: int
    learner: int  # the learner process's pid (the zygote's child)
    reaper: int  # its PID namespace's PID 1 (0: no PID namespace)
    reaper_pipe: int  # PID 1 exits when this closes (-1: none)
    status: int  # the learner process's wait status goes here when it is reaped
    setup: int
    host_fds: tuple[int, ...]  # job (w), result (r), status (r), output, pidfd, inputs
    job_dir: str
    lines: list[str] = field(default_factory=list)
    buffer: bytes = b""


class Zygote:
    """The zygote's state and loop."""

    def __init__(self, settings: control.Settings, sock: socket.socket) -> None:
        self.settings = settings
        self.sock = sock
        self.pid = os.getpid()
        self.setting_up: dict[int, _Child] = {}  # by setup descriptor
        self.offered: dict[int, _Child] = {}  # by id
        self.learners: dict[int, _Child] = {}  # by learner pid, until reaped
        self.reapers: set[int] = set()
        self.own_pid_ns = -1
        self.next_id = 0
        self.broken = False
        self.wakeup_r, self.wakeup_w = os.pipe()
        self.plan: ChildPlan | None = None
        self.main_module: types.ModuleType | None = None
        self.reaper_program = -1  # a memfd holding PID 1's program (worker.sandbox.reaper)

    # -- start -------------------------------------------------------------------------------

    def start(self) -> None:
        """Import, warm up, probe the layers, stage the root, then say hello (or refuse)."""
        for name in DEFAULT_PRELOAD + self.settings.preload:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        import torch

        torch.set_num_threads(1)
        rehearse()
        if not gpu_devices_present():
            hide_gpus()  # once for every child, rather than in each CPU job's critical path
        import numpy as np

        np.random.seed()  # its first call does slow one-time work; children reseed cheaply
        status = layers.probe(self.settings.uid, frozenset(self.settings.disabled))
        programs = _reaper_programs()
        if programs is None and status["pidns"] is None:
            status["pidns"] = "no `cat` and `sh` in /usr/bin or /bin to run as its PID 1"
        missing = {name: why for name, why in status.items() if why is not None}
        if missing and self.settings.strict:
            control.send(self.sock, control.Refuse(missing=missing))
            os._exit(0)
        on = frozenset(name for name, why in status.items() if why is None)
        from worker.sandbox import landlock, seccomp

        abi = landlock.abi_version() if "landlock" in on else 0
        root = rootfs.host_plan()
        if "mountns" in on:
            root = self._stage_root()
        self.plan = ChildPlan(
            layers=on,
            uid=self.settings.uid if "uid" in on else None,
            root=root,
            landlock_abi=abi,
            seccomp_program=seccomp.compile_filter() if "seccomp" in on else None,
            reaper=programs,
            zygote_pid=self.pid,
            base_address_space=_address_space(),
            max_processes=self.settings.max_processes,
            max_threads=self.settings.max_threads,
            job_tmpfs_bytes=self.settings.job_tmpfs_bytes,
            max_memory_bytes=self.settings.max_memory_bytes,
        )
        if self.plan.uid is not None and "pidns" in on:
            code = reaper.program(self.plan.root.stage if self.plan.staged else "/",
                                  self.plan.uid)
            if code is not None:
                self.reaper_program = reaper.load(code)
        settle_runtime_once(self.plan)
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            raise RuntimeError(f"the zygote has {threads} threads; forking it is unsafe")
        # The grader's modules stay loaded for the harness, but out of the learner's easy reach
        # (their files are not in the sandbox either, so `import worker` fails there). Done here,
        # once, rather than in every child: it writes to pages all over the heap.
        for name in [n for n in sys.modules if n.split(".")[0] in rootfs.GRADER_PACKAGES]:
            del sys.modules[name]
        # Likewise ``__main__`` (this module): a child that dropped the last reference to it
        # would tear its namespace down in every run (about 1 ms of CPU). The zygote keeps it.
        self.main_module = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        gc.collect()
        gc.freeze()  # forked children then copy fewer pages when their collector runs
        linux.collapse_to_huge_pages()
        os.set_blocking(self.wakeup_w, False)
        os.set_blocking(self.wakeup_r, False)
        signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        control.send(self.sock, control.Hello(pid=self.pid, layers=status,
                                              landlock=landlock.describe(abi)))

    def _stage_root(self) -> rootfs.RootPlan:
        # A private mount namespace for the zygote: the staged tree exists only there (and in
        # the children's copies), never on the host.
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        stage = os.path.join(self.settings.state_dir, "root")
        with contextlib.suppress(FileExistsError):
            os.mkdir(stage, 0o755)
        info = os.lstat(stage)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise RuntimeError(f"{stage} is not a folder owned by the worker")
        os.chmod(stage, 0o755)
        for folder in Path(stage).parents:
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                raise RuntimeError(f"{folder} must be searchable by others (o+x): the slot's "
                                   f"uid pivots into {stage}")
        return rootfs.stage_root(stage, [Path(h) for h in self.settings.hidden])

    # -- loop --------------------------------------------------------------------------------

    def serve(self) -> NoReturn:
        """Keep children warm until the runner leaves."""
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        poller.register(self.wakeup_r, select.POLLIN)
        registered: set[int] = set()
        while True:
            self._fill()
            for fd in set(self.setting_up) - registered:
                poller.register(fd, select.POLLIN)
                registered.add(fd)
            for fd, _ in poller.poll():
                if fd == self.sock.fileno():
                    self._from_runner()
                elif fd == self.wakeup_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wakeup_r, 4096)
                    self._reap()
                elif fd in self.setting_up and self._setup_progress(self.setting_up[fd]):
                    poller.unregister(fd)
                    registered.discard(fd)

    def _fill(self) -> None:
        while not self.broken and len(self.setting_up) + len(self.offered) < self.settings.warm:
            self._spawn()

    def _spawn(self) -> None:
        assert self.plan is not None
        pipes = [os.pipe() for _ in range(4)]  # setup, job, result, status
        for _, w in pipes[1:3]:
            with contextlib.suppress(OSError):
                fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        # Two captures: the visible cases' output, which the runner returns (sealed by the
        # harness before the first hidden case), and the hidden cases', which nobody reads.
        output = os.memfd_create("output", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        hidden_output = os.memfd_create("hidden-output", os.MFD_CLOEXEC)
        # The job's inputs, in memory the runner reads back (worker.shared_inputs).
        inputs = os.memfd_create("inputs", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        job_dir = rootfs.JOB_DIR if self.plan.staged else self._host_job_dir()
        (setup_r, setup_w), (job_r, job_w), (result_r, result_w), (status_r, status_w) = pipes
        fds = ChildFds(setup=setup_w, job=job_r, result=result_w, output=output,
                       hidden_output=hidden_output, inputs=inputs, job_dir=job_dir)
        reaper, reaper_pipe = 0, -1
        with self._new_pid_namespace():
            if "pidns" in self.plan.layers:
                reaper, reaper_pipe = self._start_reaper()
            pid = os.fork()
            if pid == 0:
                self._forget()
                learner_process(self.plan, fds)
        for fd in (setup_w, job_r, result_w, hidden_output):
            os.close(fd)
        # The runner kills PID 1 (the whole namespace) or, without one, the learner process.
        pidfd = os.pidfd_open(reaper or pid)
        child = _Child(self.next_id, pid, reaper, reaper_pipe, status_w, setup_r,
                       (job_w, result_r, status_r, output, pidfd, inputs), job_dir)
        self.next_id += 1
        self.setting_up[setup_r] = child
        self.learners[pid] = child

    @contextlib.contextmanager
    def _new_pid_namespace(self) -> Iterator[None]:
        """Children forked inside this block start a new PID namespace (the first is its
        PID 1); the zygote itself stays where it is."""
        assert self.plan is not None
        if "pidns" not in self.plan.layers:
            yield
            return
        if self.own_pid_ns < 0:
            self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        linux.unshare(linux.CLONE_NEWPID)
        try:
            yield
        finally:
            linux.setns(self.own_pid_ns, linux.CLONE_NEWPID)

    def _start_reaper(self) -> tuple[int, int]:
        assert self.plan is not None
        read_end, write_end = os.pipe()
        try:
            pid = self._spawn_reaper(read_end)
        finally:
            os.close(read_end)
        self.reapers.add(pid)
        return pid, write_end

    def _spawn_reaper(self, stdin: int) -> int:
        assert self.plan is not None
        actions = [(os.POSIX_SPAWN_DUP2, stdin, 0),
                   (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_DUP2, 1, 2)]
        if self.reaper_program >= 0:
            path = f"/proc/self/fd/{self.reaper_program}"
            try:
                return os.posix_spawn(path, ["reaper"], {}, file_actions=actions)
            except OSError:
                # A kernel that refuses to execute memfds (vm.memfd_noexec): the system's
                # programs from now on.
                os.close(self.reaper_program)
                self.reaper_program = -1
        assert self.plan.reaper is not None
        command = reaper.shell_command(
            self.plan.reaper, self.plan.root.stage if self.plan.staged else "/", self.plan.uid)
        return os.posix_spawn(command[0], command, {}, file_actions=actions)

    def _host_job_dir(self) -> str:
        # Development without a mount namespace: a real folder, removed when the child is reaped
        # (rmtree does not follow the symlinks a learner may plant there).
        path = tempfile.mkdtemp(prefix="job-", dir=self.settings.state_dir)
        if self.plan is not None and self.plan.uid is not None:
            os.chown(path, self.plan.uid, self.plan.uid)
        return path

    def _forget(self) -> None:
        # In the child: drop Python's ownership of the zygote's descriptors, so that nothing
        # closes a number the child reuses, and undo the zygote's signal plumbing.
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.sock.detach()

    def _setup_progress(self, child: _Child) -> bool:
        """Read what the learner process said; True once the pipe is finished."""
        data = os.read(child.setup, 4096)
        if data:
            child.buffer += data
            *lines, child.buffer = child.buffer.split(b"\n")
            child.lines.extend(line.decode(errors="replace") for line in lines)
            return False
        del self.setting_up[child.setup]
        os.close(child.setup)
        words: dict[str, str] = {}
        for line in child.lines:
            key, _, value = line.partition(" ")
            words[key] = value
        if "OK" in words:
            self._send(control.Warm(id=child.id, learner=child.learner), child.host_fds)
            self._close_host_fds(child)
            self.offered[child.id] = child
            return True
        self.broken = True
        error = words.get("E") or "the sandboxed child exited while being set up"
        self._end(child)
        self._close_host_fds(child)
        self._send(control.Failed(error=error))
        return True

    def _send(self, message: control.Warm | control.Failed, fds: tuple[int, ...] = ()) -> None:
        try:
            control.send(self.sock, message, fds)
        except OSError:
            self._shutdown()  # the runner is gone

    @staticmethod
    def _close_host_fds(child: _Child) -> None:
        for fd in child.host_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        child.host_fds = ()

    def _from_runner(self) -> None:
        try:
            message = control.receive_from_runner(self.sock)
        except (OSError, ValueError):
            message = None
        if message is None or isinstance(message, control.Quit):
            self._shutdown()
        else:
            self.offered.pop(message.id, None)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reapers.discard(pid)
            child = self.learners.pop(pid, None)
            if child is None:
                continue
            with contextlib.suppress(OSError):
                os.write(child.status, f"{status}\n".encode())
            self._end(child)
            if not child.job_dir.startswith(rootfs.JOB_DIR):
                shutil.rmtree(child.job_dir, ignore_errors=True)

    @staticmethod
    def _end(child: _Child) -> None:
        """Close the child's status and reaper pipes and kill its PID 1 (the namespace)."""
        for fd in (child.status, child.reaper_pipe):
            with contextlib.suppress(OSError):
                os.close(fd)
        child.status = child.reaper_pipe = -1
        for pid in (child.reaper, child.learner):
            with contextlib.suppress(ProcessLookupError):
                if pid:
                    os.kill(pid, signal.SIGKILL)

    def _shutdown(self) -> NoReturn:
        children = (*self.learners, *self.reapers)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # Reap them: under a PID 1 that does not reap (a container without an init), children
        # left unreaped would pile up as zombies once the zygote is gone.
        for pid in children:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
        os._exit(0)


def _reaper_programs() -> tuple[str, str, str] | None:
    """cat and sh (required) and chroot (optional) for PID 1 where its own program cannot run
    (see worker.sandbox.reaper)."""
    found = [shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
             for name in ("cat", "sh", "chroot")]
    cat, sh, chroot = (os.path.realpath(f) if f else "" for f in found)
    return (cat, sh, chroot) if cat and sh else None


def _address_space() -> int:
    mapped = mapped_bytes()
    return 2 * 2**30 if mapped is None else mapped + 512 * 2**20  # room for thread stacks


def main() -> NoReturn:
    """Entry point: ``python -m worker.sandbox.zygote SETTINGS_JSON CONTROL_FD``."""
    settings = control.Settings.model_validate_json(sys.argv[1])
    sock = socket.socket(fileno=int(sys.argv[2]))
    zygote = Zygote(settings, sock)
    try:
        zygote.start()
    except Exception as exc:
        with contextlib.suppress(OSError):
            control.send(sock, control.Failed(error=f"the zygote could not start: {exc!r}"))
        raise
    zygote.serve()


if __name__ == "__main__":
    main()
