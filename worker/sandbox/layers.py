"""The sandbox's layers: which ones this machine offers, and what strict mode makes of that.

Strict mode (the default) refuses to run learner code unless every layer below is on, and says
which are missing and why. Development mode (``GRADER_SANDBOX_STRICT=0``) runs with whatever is
there and puts a notice on every result.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping

LAYERS: dict[str, str] = {
    "linux": "Linux (namespaces, Landlock and seccomp exist only there)",
    "uid": "an unprivileged uid per worker slot (the worker must run as root to switch to it)",
    "userns": "user namespace",
    "mountns": "mount namespace with the staged read-only root (hides the course folder)",
    "netns": "network namespace",
    "ipcns": "IPC namespace",
    "utsns": "UTS namespace",
    "pidns": "PID namespace",
    "landlock": "Landlock",
    "seccomp": "seccomp filter",
    "rlimits": "resource limits",
}

NAMESPACE_LAYERS = ("userns", "mountns", "netns", "ipcns", "utsns", "pidns")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here as configured (a grader problem, never the learner's)."""


def missing_message(missing: Mapping[str, str]) -> str:
    """The refusal strict mode gives, naming each missing layer and why."""
    lines = [f"  - {LAYERS.get(name, name)}: {why}" for name, why in missing.items()]
    return ("the sandbox refuses to grade (strict mode): these isolation layers are missing:\n"
            + "\n".join(lines)
            + "\nRun the worker as root on Linux with user namespaces, Landlock and libseccomp, "
              "or set GRADER_SANDBOX_STRICT=0 for development only (results then say so).")


def development_notice(missing: Mapping[str, str]) -> str:
    """The notice every result carries in development mode."""
    if not missing:
        return ("development mode (GRADER_SANDBOX_STRICT=0): the sandbox would refuse to grade "
                "if a layer were missing; all layers are on")
    names = ", ".join(LAYERS.get(n, n).split(" (")[0] for n in missing)
    return (f"development mode (GRADER_SANDBOX_STRICT=0): learner code ran WITHOUT these "
            f"isolation layers: {names}. Do not grade real submissions like this.")


def probe_namespaces(uid: int | None) -> dict[str, str | None]:
    """Try, in a throwaway child, what a sandboxed child does: as root, new mount and PID
    namespaces; then, as the slot's uid, a user namespace (with its uid map) and network, IPC
    and UTS namespaces. Returns each namespace layer mapped to None (works) or why not."""
    from worker.sandbox import linux

    as_root = {"mountns": linux.CLONE_NEWNS, "pidns": linux.CLONE_NEWPID}
    as_slot = {"userns": linux.CLONE_NEWUSER, "netns": linux.CLONE_NEWNET,
               "ipcns": linux.CLONE_NEWIPC, "utsns": linux.CLONE_NEWUTS}
    names = (*as_root, *as_slot)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        result: dict[str, str | None] = {}
        try:
            os.close(read_end)
            for name, flag in as_root.items():
                result[name] = _try_unshare(flag) if os.geteuid() == 0 else (
                    "needs the worker to run as root")
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                linux.prctl(linux.PR_SET_DUMPABLE, 1)  # the uid switch cleared it
            outside = os.getuid()
            for name, flag in as_slot.items():
                result[name] = _try_unshare(flag)
                if name == "userns" and result[name] is None:
                    try:
                        linux.write_file("/proc/self/setgroups", "deny")
                        linux.write_file("/proc/self/uid_map", f"1000 {outside} 1\n")
                    except OSError as exc:
                        result[name] = f"writing the uid map failed: {exc.strerror or exc}"
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        parsed = json.loads(data)
    except ValueError:
        return dict.fromkeys(names, "the probe process failed")
    return {name: parsed.get(name, "the probe process failed") for name in names}


def _try_unshare(flag: int) -> str | None:
    from worker.sandbox import linux

    try:
        linux.unshare(flag)
    except OSError as exc:
        return f"unshare failed: {exc.strerror or exc}"
    return None


def probe(uid: int | None, disabled: frozenset[str] = frozenset()) -> dict[str, str | None]:
    """Every layer mapped to None (available) or why not. ``disabled`` layers count as missing."""
    from worker.sandbox import landlock, seccomp

    status: dict[str, str | None] = dict.fromkeys(LAYERS)
    if not sys.platform.startswith("linux"):
        return {name: f"not available on {sys.platform}" for name in LAYERS}
    if os.geteuid() != 0:
        status["uid"] = "the worker does not run as root, so it cannot switch to the slot's uid"
        status["mountns"] = "staging the read-only root needs the worker to run as root"
        status["pidns"] = "the zygote must run as root to give each child a PID namespace"
    status.update({k: v for k, v in probe_namespaces(uid if status["uid"] is None else None)
                   .items() if status.get(k) is None})
    try:
        abi = landlock.abi_version()
    except OSError as exc:
        abi = 0
        status["landlock"] = f"landlock_create_ruleset failed: {exc}"
    if abi <= 0 and status["landlock"] is None:
        status["landlock"] = "the kernel has no Landlock (or it is disabled at boot)"
    try:
        seccomp.compile_filter()
    except seccomp.SeccompUnavailable as exc:
        status["seccomp"] = str(exc)
    for name in disabled:
        if name in status and status[name] is None:
            status[name] = "disabled by GRADER_SANDBOX_DISABLE"
    return status
