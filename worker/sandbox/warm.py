"""A pre-forked child as the runner holds it: its descriptors, and how to end it."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass


@dataclass
class WarmChild:
    """The runner's descriptors for one pre-forked child."""

    id: int
    job: int
    result: int
    status: int
    output: int
    pidfd: int
    inputs: int
    closed: bool = False

    def kill(self) -> None:
        """SIGKILL the child's PID namespace (its PID 1), or the child without one."""
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def close(self) -> None:
        """Kill, then release every descriptor."""
        if self.closed:
            return
        self.kill()
        for fd in (self.job, self.result, self.status, self.output, self.pidfd, self.inputs):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.closed = True
