"""The hardened sandbox learner code runs in (see docs/sandbox.md).

:class:`SandboxRunner` implements :class:`worker.runner.Runner`: a warm zygote per worker slot,
pre-forked children isolated by an unprivileged uid, user/mount/network/IPC/UTS/PID namespaces,
Landlock, seccomp and rlimits, and a wall-clock timer that ends every run with SIGKILL of the
child's PID namespace.
"""

from worker.sandbox.layers import LAYERS, SandboxUnavailable
from worker.sandbox.runner import SandboxConfig, SandboxRunner

__all__ = ["LAYERS", "SandboxConfig", "SandboxRunner", "SandboxUnavailable"]
