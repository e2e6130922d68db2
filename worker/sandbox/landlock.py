"""Landlock: the kernel's unprivileged access control, applied by the learner's process to itself.

The sandbox asks for read-only access to the runtime (Python, site-packages, system libraries),
read-write access to one job folder, no TCP at all, and (ABI 6+) no signals and no abstract
UNIX sockets across the sandbox's boundary. Each ABI version adds rights; the ruleset handles
every right the running kernel knows, so an unlisted path gets none of them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from worker.sandbox import linux

CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

FS_V1 = (1 << 13) - 1
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
WRITABLE = (FS_V1 & ~(FS_MAKE_CHAR | FS_MAKE_BLOCK)) | FS_REFER | FS_TRUNCATE
DEVICE = FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV
# Writing (fopen "w" truncates) existing files, creating none: the CUDA driver names its
# threads through /proc/self/task/<tid>/comm, and fails to start (error 304) when it cannot.
WRITE_FILES = FS_WRITE_FILE | FS_TRUNCATE


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The Landlock ABI this kernel offers; 0 when Landlock is missing or disabled."""
    try:
        return linux.syscall(linux.SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                             ctypes.c_uint32(CREATE_RULESET_VERSION))
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


def describe(abi: int) -> str:
    """What the sandbox gets from this ABI, for the layer report."""
    if abi <= 0:
        return "missing"
    parts = ["filesystem"]
    if abi >= 4:
        parts.append("no TCP")
    if abi >= 6:
        parts.append("scoped signals and abstract sockets")
    return f"ABI {abi}: " + ", ".join(parts)


def _handled_fs(abi: int) -> int:
    rights = FS_V1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


@dataclass(frozen=True)
class Policy:
    """Paths and the rights granted beneath them."""

    read_only: tuple[str, ...]
    writable: tuple[str, ...]
    devices: tuple[str, ...] = ()
    writable_files: tuple[str, ...] = ()  # existing files beneath may be written, not created


def restrict_self(policy: Policy, abi: int) -> None:
    """Apply the policy to this process and its future children (needs no_new_privs)."""
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = linux.syscall(linux.SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                            ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        _add_rules(ruleset, policy.read_only, READ_ONLY & handled)
        _add_rules(ruleset, policy.writable, WRITABLE & handled)
        _add_rules(ruleset, policy.devices, DEVICE & handled)
        _add_rules(ruleset, policy.writable_files, WRITE_FILES & handled)
        linux.syscall(linux.SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)


def _add_rules(ruleset: int, paths: Iterable[str], rights: int) -> None:
    for path in paths:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except (FileNotFoundError, PermissionError):
            continue  # what this process cannot reach needs no rule
        try:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            allowed = rights if is_dir else rights & FILE_RIGHTS
            attr = _PathBeneathAttr(allowed, fd)
            linux.syscall(linux.SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                          ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(attr), ctypes.c_uint32(0))
        finally:
            os.close(fd)
