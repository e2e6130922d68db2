"""The seccomp filter: system calls the learner's process may not make.

The filter is compiled once, in the zygote, with libseccomp (through ``pyseccomp``), and exported
as classic BPF; every sandboxed child installs the same bytes with one ``prctl``. Denied calls
fail with an errno the learner's Python sees as an ordinary exception; a call from a foreign
architecture (32-bit ``int 0x80``, x32) kills the process.
"""

from __future__ import annotations

import errno
import importlib
import os
from typing import Any

from worker.sandbox.linux import CLONE_NEW_ANY

AF_UNIX = 1
TIOCSTI = 0x5412

# Debugging and other processes' memory, namespaces and mounts, kernel objects and interfaces
# that have been rich sources of kernel bugs, and machine-wide administration.
DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "perf_event_open", "userfaultfd", "fanotify_init",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "iopl", "ioperm", "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "vhangup",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
)


class SeccompUnavailable(Exception):
    """libseccomp (or its Python binding) is missing or cannot build the filter."""


def _binding() -> Any:
    try:
        return importlib.import_module("pyseccomp")
    except (ImportError, OSError) as exc:  # the binding loads libseccomp.so.2 on import
        raise SeccompUnavailable(f"pyseccomp/libseccomp cannot be loaded: {exc}") from exc


class _Fileno:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


def compile_filter() -> bytes:
    """The filter as BPF bytes, ready for :func:`worker.sandbox.linux.load_seccomp`."""
    sc = _binding()
    try:
        f = sc.SyscallFilter(sc.ALLOW)
        f.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
        eperm = sc.ERRNO(errno.EPERM)
        for name in DENIED:
            try:
                f.add_rule(eperm, name)
            except (OSError, ValueError, RuntimeError):
                continue  # a call this kernel/libseccomp does not know cannot be made either
        # Threads must still work: glibc falls back from clone3 to clone on ENOSYS, and clone's
        # flags (unlike clone3's, which live in memory) can be inspected here.
        f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        bit = 1
        while bit <= CLONE_NEW_ANY:
            if CLONE_NEW_ANY & bit:
                f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, bit, bit))
            bit <<= 1
        for call in ("socket", "socketpair"):
            f.add_rule(sc.ERRNO(errno.EACCES), call, sc.Arg(0, sc.NE, AF_UNIX))
        f.add_rule(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
        fd = os.memfd_create("seccomp-filter", os.MFD_CLOEXEC)
        try:
            f.export_bpf(_Fileno(fd))
            size = os.lseek(fd, 0, os.SEEK_END)
            program = os.pread(fd, size, 0)
        finally:
            os.close(fd)
    except SeccompUnavailable:
        raise
    except Exception as exc:
        raise SeccompUnavailable(f"libseccomp could not build the filter: {exc}") from exc
    if not program or len(program) % 8:
        raise SeccompUnavailable("libseccomp exported an empty or malformed filter")
    return program
