"""The runner side of the sandbox: :class:`SandboxRunner`, a :class:`~worker.runner.Runner`.

It holds one worker slot (a lock file, hence a uid of its own), starts a zygote for it, and
runs each job in one of the zygote's pre-forked, pre-isolated children: it writes the job to the
child's pipe, reads frames under a wall-clock timer, and always ends the run by SIGKILL-ing the
child's PID namespace through a pidfd (no PID reuse race). It never opens a path inside a job
folder: the job folder is a tmpfs inside the child's mount namespace, and the captured output
is a memfd read through its descriptor.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from worker.process_runner import ProcessRunner
from worker.runner import Job, RunOutcome
from worker.sandbox import control
from worker.sandbox.drive import drive
from worker.sandbox.layers import (
    LAYERS,
    SandboxUnavailable,
    development_notice,
    missing_message,
)
from worker.sandbox.warm import WarmChild

MAX_SLOTS = 256


@dataclass(frozen=True)
class SandboxConfig:
    """How a runner's sandbox is set up (defaults are production's)."""

    strict: bool = True
    uid_base: int = 61000  # slot n runs as uid uid_base + n
    slot: int | None = None  # None: the first free slot (a lock file per slot)
    warm: int = 3  # children kept forked and isolated ahead of time (a submission uses 2)
    recycle_after: int = 1000  # jobs before the zygote is replaced
    state_dir: Path | None = None  # None: /run/grader-sandbox (root) or a temp folder
    hidden: tuple[Path, ...] = ()  # folders that must never be bound in (course, references)
    disabled: frozenset[str] = frozenset()  # layers to treat as missing (tests, diagnosis)
    max_processes: int = 64  # processes and threads of one job
    max_threads: int = 4  # what torch.set_num_threads is capped at
    max_memory_bytes: int | None = None  # a cap on Limits.memory_bytes
    job_tmpfs_bytes: int = 32 * 2**20
    start_timeout_s: float = 180.0

    def resolved_state_dir(self) -> Path:
        """Where slot locks and the staged root live."""
        if self.state_dir is not None:
            return self.state_dir
        if os.geteuid() == 0 and os.path.isdir("/run"):
            return Path("/run/grader-sandbox")
        import tempfile

        return Path(tempfile.gettempdir()) / f"grader-sandbox-{os.geteuid()}"


def zygote_environment() -> dict[str, str]:
    """The zygote's whole environment, which every learner process inherits: no secrets, single
    threaded math libraries, the job folder as home; and the worker's choice of GPUs
    (``CUDA_VISIBLE_DEVICES``: one worker per card)."""
    gpus = {k: os.environ[k] for k in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")
            if k in os.environ}
    return gpus | {
        "PATH": "/usr/bin:/bin",
        "HOME": "/job",
        "TMPDIR": "/job",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
        "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
    }


@dataclass
class _Zygote:
    """A running zygote, seen from the runner."""

    process: subprocess.Popen[bytes]
    sock: socket.socket
    hello: control.Hello
    warm: deque[WarmChild] = field(default_factory=deque)
    failure: str | None = None
    jobs: int = 0

    def alive(self) -> bool:
        return self.process.poll() is None and self.failure is None

    def pump(self, timeout: float) -> None:
        """Receive what the zygote sent within ``timeout`` seconds (0: only what is there)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                return
            try:
                message, fds = control.receive_from_zygote(self.sock)
            except (EOFError, OSError, ValueError) as exc:
                self.failure = f"the zygote went away: {exc}"
                return
            if isinstance(message, control.Warm) and len(fds) == control.WARM_FDS:
                job, result, status, output, pidfd, inputs = fds
                self.warm.append(WarmChild(message.id, job, result, status, output, pidfd,
                                           inputs))
                return
            for fd in fds:
                os.close(fd)
            if isinstance(message, control.Failed):
                self.failure = message.error
                return

    def take(self, timeout: float) -> WarmChild:
        """The next warm child (see :meth:`release`)."""
        self.pump(0)
        deadline = time.monotonic() + timeout
        while not self.warm:
            if not self.alive():
                raise SandboxUnavailable(f"the sandbox failed: {self.failure or 'zygote died'}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxUnavailable("no sandboxed child became ready in time")
            self.pump(remaining)
        return self.warm.popleft()

    def release(self, child: WarmChild) -> None:
        """The child's run is over: the zygote prepares a replacement now, rather than while
        the run needed the CPU."""
        child.close()
        with contextlib.suppress(OSError):
            control.send(self.sock, control.Took(id=child.id))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            control.send(self.sock, control.Quit())
        for child in self.warm:
            child.close()
        self.warm.clear()
        self.sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class SandboxRunner:
    """Runs each job in a pre-forked child of a warm zygote, behind every isolation layer.

    One job at a time per runner (a runner is one worker slot). ``start()`` is optional: the
    first ``run()`` starts the zygote. Raises :class:`SandboxUnavailable` when strict mode
    refuses, or the sandbox breaks; never for anything the learner's code does.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._zygote: _Zygote | None = None
        self._slot: int | None = None
        self._slot_file: int | None = None
        self.layers: dict[str, str | None] = {}
        self.notices: list[str] = []
        self._fallback: ProcessRunner | None = None
        atexit.register(self.close)

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def separates_hidden_output(self) -> bool:
        """Visible and hidden cases may share a run: the child captures their output apart
        (see :mod:`worker.harness.capture`). Not so in the development fallback."""
        return sys.platform.startswith("linux") and self._fallback is None

    @property
    def slot(self) -> int | None:
        """The worker slot this runner holds (its uid is ``uid_base + slot``)."""
        return self._slot

    @property
    def uid(self) -> int | None:
        """The uid learner code runs as, outside its namespaces."""
        on = self.layers.get("uid", "?") is None
        return None if self._slot is None or not on else self.config.uid_base + self._slot

    @property
    def zygote_pid(self) -> int | None:
        """The current zygote's pid (None before start)."""
        return None if self._zygote is None else self._zygote.process.pid

    def start(self) -> SandboxRunner:
        """Start the zygote now (it takes seconds: it imports torch)."""
        with self._lock:
            self._ensure_zygote()
        return self

    def healthy(self) -> bool:
        """Whether the zygote is alive and working."""
        return self._fallback is not None or (self._zygote is not None and self._zygote.alive())

    def close(self) -> None:
        """Stop the zygote and release the slot."""
        if self._zygote is not None:
            self._zygote.stop()
            self._zygote = None
        if self._slot_file is not None:
            os.close(self._slot_file)
            self._slot_file = None
            self._slot = None

    def _ensure_zygote(self) -> _Zygote | None:
        if self._fallback is not None:
            return None
        if not sys.platform.startswith("linux"):
            missing = {name: f"not available on {sys.platform}" for name in LAYERS}
            self.layers = dict(missing)
            if self.config.strict:
                raise SandboxUnavailable(missing_message(missing))
            self._fallback = ProcessRunner()
            self.notices = [development_notice(missing)]
            return None
        zygote = self._zygote
        if zygote is not None and zygote.alive() and zygote.jobs < self.config.recycle_after:
            return zygote
        if zygote is not None:
            zygote.stop()
            self._zygote = None
        self._zygote = self._start_zygote()
        return self._zygote

    def _restart_zygote(self) -> _Zygote:
        if self._zygote is not None:
            self._zygote.stop()
        self._zygote = self._start_zygote()
        return self._zygote

    @property
    def landlock(self) -> str:
        """What Landlock gives on this kernel (e.g. ``ABI 7: filesystem, no TCP, ...``)."""
        return "" if self._zygote is None else self._zygote.hello.landlock

    def _claim_slot(self, state_dir: Path) -> int:
        if self._slot is not None:
            return self._slot
        candidates = [self.config.slot] if self.config.slot is not None else range(MAX_SLOTS)
        for slot in candidates:
            fd = os.open(state_dir / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
                         | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._slot, self._slot_file = slot, fd
            return slot
        raise SandboxUnavailable(f"every sandbox slot in {state_dir} is taken")

    def _start_zygote(self) -> _Zygote:
        state_dir = self.config.resolved_state_dir()
        state_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
        info = os.lstat(state_dir)
        if info.st_uid != os.geteuid() or not os.path.isdir(state_dir) or os.path.islink(
                state_dir):
            raise SandboxUnavailable(f"{state_dir} must be a folder owned by the worker")
        os.chmod(state_dir, 0o711)
        slot = self._claim_slot(state_dir)
        settings = control.Settings(
            strict=self.config.strict,
            uid=self.config.uid_base + slot if os.geteuid() == 0 else None,
            warm=self.config.warm,
            hidden=tuple(str(p) for p in self.config.hidden),
            disabled=tuple(sorted(self.config.disabled)),
            state_dir=str(state_dir),
            max_processes=self.config.max_processes,
            max_threads=self.config.max_threads,
            job_tmpfs_bytes=self.config.job_tmpfs_bytes,
            max_memory_bytes=self.config.max_memory_bytes,
        )
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-m", "worker.sandbox.zygote",
                 settings.model_dump_json(), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=zygote_environment(), cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            theirs.close()
        ready, _, _ = select.select([ours], [], [], self.config.start_timeout_s)
        try:
            if not ready:
                raise SandboxUnavailable("the zygote did not start in time")
            message, fds = control.receive_from_zygote(ours)
        except (EOFError, OSError, ValueError) as exc:
            process.kill()
            process.wait()
            ours.close()
            raise SandboxUnavailable(f"the zygote failed to start: {exc}") from exc
        for fd in fds:
            os.close(fd)
        if not isinstance(message, control.Hello):
            process.wait()
            ours.close()
            if isinstance(message, control.Refuse):
                self.layers = {**dict.fromkeys(LAYERS), **message.missing}
                raise SandboxUnavailable(missing_message(message.missing))
            raise SandboxUnavailable(getattr(message, "error", "the zygote failed to start"))
        self.layers = dict(message.layers)
        missing = {k: v for k, v in message.layers.items() if v is not None}
        self.notices = [] if self.config.strict else [development_notice(missing)]
        return _Zygote(process, ours, message)

    # -- running -------------------------------------------------------------------------------

    def run(self, job: Job) -> RunOutcome:
        """Run ``job`` in a fresh sandboxed child; see :class:`~worker.runner.Runner`."""
        with self._lock:
            zygote = self._ensure_zygote()
            if zygote is None:
                assert self._fallback is not None
                outcome = self._fallback.run(job)
            else:
                try:
                    child = zygote.take(job.limits.startup_s)
                except SandboxUnavailable:
                    # The zygote died (or broke) between runs: a fresh one, once.
                    zygote = self._restart_zygote()
                    child = zygote.take(job.limits.startup_s)
                zygote.jobs += 1
                try:
                    outcome = drive(child, job)
                finally:
                    zygote.release(child)
        outcome.notices.extend(n for n in self.notices if n not in outcome.notices)
        return outcome
