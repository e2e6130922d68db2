"""The children of ``grader serve``: started so that they die with it, restarted with backoff
when they die on their own.

- Each child runs in a session of its own (Ctrl-C reaches only ``grader serve``, which stops
  them in order) and asks the kernel for SIGTERM when ``grader serve`` dies
  (``PR_SET_PDEATHSIG``): killed hard, ``grader serve`` leaves no Redis, web or worker behind.
- A child that exits while the service runs is started again after a delay that doubles from
  1 s to 30 s (reset once it has stayed up for a minute), and the log says so.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

PR_SET_PDEATHSIG = 1
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
STABLE_AFTER_S = 60.0


def _die_with_parent(parent: int) -> None:
    # Runs in the child between fork and exec: SIGTERM when the parent dies; and if it died
    # already (before prctl took effect), go now.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


@dataclass
class Child:
    """One supervised process: how to start it, the current process, its restart history."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        """Start (or start again) the process."""
        parent = os.getpid()
        self.process = subprocess.Popen(self.command, env=self.env, start_new_session=True,
                                        preexec_fn=lambda: _die_with_parent(parent))
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def watch(self, now: float) -> None:
        """Notice an exit (and schedule the restart), or restart when its time has come."""
        if self.process is None:
            return
        if self.restart_at is None and self.process.poll() is not None:
            if now - self.started_at >= STABLE_AFTER_S:
                self.failures = 0
            delay = min(FIRST_DELAY_S * 2 ** self.failures, MAX_DELAY_S)
            self.failures += 1
            self.restart_at = now + delay
            print(f"grader: {self.name} (pid {self.process.pid}) exited with status "
                  f"{self.process.returncode}; restarting it in {delay:g} s", file=sys.stderr,
                  flush=True)
        elif self.restart_at is not None and now >= self.restart_at:
            self.start()
            self.restarts += 1
            assert self.process is not None
            print(f"grader: {self.name} restarted (pid {self.process.pid}, restart "
                  f"{self.restarts})", file=sys.stderr, flush=True)
