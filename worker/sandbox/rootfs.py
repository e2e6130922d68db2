"""The filesystem a sandboxed child sees: an allowlist, staged once per zygote.

The zygote (root, in a private mount namespace of its own) builds a small tmpfs tree that holds
only what learner code needs, each piece bind-mounted read-only at its usual path: ``/usr`` and
the other system library folders, the Python installation and its site-packages, the grader's
own package folder, a few device nodes and a synthetic ``/etc``. Each child copies that mount
namespace into its user namespace, mounts a fresh tmpfs as its one writable job folder
(``/job``), and pivots into the tree, so the course folder (``reference/``, ``exercises/``), other
submissions, ``/home``, ``/root``, ``/etc/shadow`` and the rest of the host simply do not exist
there. Landlock repeats the same allowlist as a second, independent layer.
"""

from __future__ import annotations

import os
import stat
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from worker.sandbox import linux

JOB_DIR = "/job"
OLD_ROOT = "/.oldroot"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
GPU_DEVICE_PREFIXES = ("nvidia", "dri")
ETC_COPIES = ("/etc/ld.so.cache", "/etc/localtime")
GRADER_PACKAGES = ("worker", "grader", "common")
SANDBOX_UID = 1000  # the learner's uid inside the user namespace (never 0)
ETC_FILES = {
    "passwd": f"root:x:0:0::/:/bin/false\nlearner:x:{SANDBOX_UID}:{SANDBOX_UID}::{JOB_DIR}:"
              "/bin/false\n",
    "group": f"root:x:0:\nlearner:x:{SANDBOX_UID}:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    "hostname": "sandbox\n",
}


@dataclass(frozen=True)
class RootPlan:
    """What the sandbox sees, as paths that are the same inside and outside."""

    read_only: tuple[str, ...]  # folders bound read-only
    devices: tuple[str, ...]  # device nodes bound read-write
    stage: str = ""  # where the tree is staged in the zygote's namespace ("" = not staged)

    @property
    def gpu(self) -> bool:
        """Whether a GPU's device nodes are bound in."""
        return any(os.path.basename(d).startswith(GPU_DEVICE_PREFIXES) for d in self.devices)

    @property
    def landlock_read_only(self) -> tuple[str, ...]:
        """Landlock's read-only allowlist: the runtime, plus, in the staged tree, its synthetic
        /etc, /dev and namespace-local /proc (never the host's)."""
        if self.stage:
            return (*self.read_only, "/etc", "/dev", "/proc")
        return (*self.read_only, *(p for p in ETC_COPIES if os.path.isfile(p)))


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _package_dirs() -> set[Path]:
    """Folders of the top-level packages already imported from outside the Python install.

    The grader's own packages are left out: the learner's process has already imported all it
    needs of them, and learner code has no business importing them again.
    """
    own = [Path(m.__file__).resolve().parent for n in GRADER_PACKAGES
           if (m := sys.modules.get(n)) is not None and m.__file__]
    found: set[Path] = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or "." in name:
            continue
        path = Path(file).resolve()
        path = path.parent if path.name == "__init__.py" else path
        if not any(_is_within(path, d) for d in own):
            found.add(path)
    return found


def runtime_paths() -> tuple[str, ...]:
    """The folders learner code may read: Python, site-packages, imported packages, system libs."""
    wanted: set[Path] = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        wanted.add(Path(sysconfig.get_paths()[key]).resolve())
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        wanted.add(Path(prefix).resolve())
    wanted |= _package_dirs()
    for d in SYSTEM_DIRS:
        if os.path.isdir(d) and not os.path.islink(d):
            wanted.add(Path(d))
    chosen: list[Path] = []
    for path in sorted(wanted, key=lambda p: len(p.parts)):
        if path.exists() and not any(_is_within(path, c) for c in chosen):
            chosen.append(path)
    return tuple(str(p) for p in sorted(chosen))


def covered(hidden: Iterable[Path], exposed: Iterable[str]) -> tuple[str, ...]:
    """The hidden folders (references, exercises) that an exposed folder would reveal; the
    staged root covers each with an empty read-only tmpfs."""
    paths = [Path(p) for p in exposed]
    return tuple(str(h) for h in (Path(x).resolve() for x in hidden)
                 if h.is_dir() and any(_is_within(h, p) for p in paths))


def device_paths() -> tuple[str, ...]:
    """The device nodes bound into the sandbox: the harmless ones and any GPU's."""
    found = [d for d in DEVICES if os.path.exists(d)]
    try:
        entries = sorted(os.listdir("/dev"))
    except OSError:
        entries = []
    for entry in entries:
        if entry.startswith(GPU_DEVICE_PREFIXES):
            path = f"/dev/{entry}"
            mode = os.lstat(path).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISDIR(mode):
                found.append(path)
    return tuple(found)


def _bind(source: str, target: str, read_only: bool) -> None:
    linux.mount(source, target, None, linux.MS_BIND | linux.MS_REC)
    flags = linux.MS_BIND | linux.MS_REMOUNT | linux.MS_NOSUID
    if read_only:
        flags |= linux.MS_RDONLY | linux.MS_NODEV
    linux.mount(None, target, None, flags)


def _make_parent_dirs(stage: str, path: str) -> str:
    target = stage + path
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    return target


def stage_root(stage: str, hidden: Iterable[Path]) -> RootPlan:
    """Build the tree at ``stage`` (an existing empty folder) in this process's private mount
    namespace. Needs root; the caller has already made its mounts private."""
    plan = RootPlan(read_only=runtime_paths(), devices=device_paths(), stage=stage)
    linux.mount("tmpfs", stage, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV,
                "size=8m,nr_inodes=4096,mode=0755")
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            os.symlink(os.readlink(d), stage + d)
    for path in plan.read_only:
        target = _make_parent_dirs(stage, path)
        if os.path.isdir(path):
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            with open(target, "w"):
                pass
        _bind(path, target, read_only=True)
    for path in covered(hidden, plan.read_only):
        linux.mount("tmpfs", stage + path, "tmpfs", linux.MS_RDONLY | linux.MS_NOSUID
                    | linux.MS_NODEV | linux.MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555")
    # exist_ok: a runtime folder under /etc (Debian's Python reads /etc/python3.X/sitecustomize.py
    # through a symlink in its stdlib) has already created /etc, bound beside the synthetic files.
    os.makedirs(stage + "/etc", mode=0o755, exist_ok=True)
    for name, text in ETC_FILES.items():
        Path(stage, "etc", name).write_text(text)
    for path in ETC_COPIES:
        if os.path.isfile(path):
            Path(stage + path).write_bytes(Path(path).read_bytes())
    os.makedirs(stage + "/dev", mode=0o755, exist_ok=True)
    for path in plan.devices:
        target = _make_parent_dirs(stage, path)
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            with open(target, "w"):
                pass
        _bind(path, target, read_only=False)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(link, f"{stage}/dev/{name}")
    for d in ("/proc", JOB_DIR, OLD_ROOT, "/tmp", "/dev/shm"):
        os.makedirs(stage + d, mode=0o755, exist_ok=True)
    linux.mount(None, stage, None, linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID
                | linux.MS_NODEV, "size=8m,nr_inodes=4096,mode=0755")
    return plan


def host_plan() -> RootPlan:
    """The allowlist without a staged tree (no mount namespace): Landlock alone enforces it,
    and cannot carve a hidden folder out of an exposed one (development only)."""
    return RootPlan(read_only=runtime_paths(), devices=device_paths())
