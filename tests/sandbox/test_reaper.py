"""PID 1 of every warm child's namespace: the reaper program, and the one the sandbox runs."""

from __future__ import annotations

import os
import platform
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.conftest import require_sandbox_machine
from worker.sandbox import reaper
from worker.sandbox.runner import SandboxRunner

SLOT_UID = 64321


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _ignores_sigchld(status: dict[str, str]) -> bool:
    return bool(int(status["SigIgn"], 16) & (1 << (signal.SIGCHLD - 1)))


@pytest.fixture
def program() -> Iterator[tuple[int, Path]]:
    """The reaper program for a throwaway root, loaded in a memfd."""
    require_sandbox_machine()
    if platform.machine() != "x86_64":
        pytest.skip("the reaper program is x86-64 code; elsewhere the shell reaper runs")
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"reaper-root-{os.getpid()}"
    root.mkdir(exist_ok=True)
    code = reaper.program(str(root), SLOT_UID)
    assert code is not None
    fd = reaper.load(code)
    yield fd, root
    os.close(fd)
    root.rmdir()


def _spawn(fd: int, stdin: int) -> int:
    return os.posix_spawn(f"/proc/self/fd/{fd}", ["reaper"], {},
                          file_actions=[(os.POSIX_SPAWN_DUP2, stdin, 0)])


def test_the_reaper_program_chroots_drops_to_the_uid_and_ends_with_its_pipe(
        program: tuple[int, Path]) -> None:
    fd, root = program
    read_end, write_end = os.pipe()
    pid = _spawn(fd, read_end)
    os.close(read_end)
    try:
        deadline = time.monotonic() + 5
        while _status(pid)["Uid"].split()[0] != str(SLOT_UID) and time.monotonic() < deadline:
            time.sleep(0.01)  # until it has dropped its privileges and waits on the pipe
        status = _status(pid)
        assert status["Uid"].split() == [str(SLOT_UID)] * 4
        assert status["Gid"].split() == [str(SLOT_UID)] * 4
        assert status["Groups"] == ""
        assert _ignores_sigchld(status)  # the kernel reaps the orphans it inherits
        assert os.readlink(f"/proc/{pid}/root") == str(root)
        os.write(write_end, b"anything\n")  # what it reads changes nothing
        time.sleep(0.05)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)
    finally:
        os.close(write_end)
    _, status_code = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status_code) == 0


def test_the_reaper_program_stops_rather_than_run_outside_its_root(
        program: tuple[int, Path]) -> None:
    code = reaper.program("/nonexistent/root", SLOT_UID)
    assert code is not None
    fd = reaper.load(code)
    try:
        pid = _spawn(fd, os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
        _, status_code = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status_code) == reaper.EXIT_SETUP_FAILED


def test_the_reaper_program_is_sealed() -> None:
    fd = reaper.load(b"\x7fELF")
    try:
        with pytest.raises(PermissionError):
            os.write(fd, b"more")
    finally:
        os.close(fd)


def _namespace_inits(zygote: int) -> list[tuple[int, dict[str, str]]]:
    """The zygote's children that are PID 1 of their namespace."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = _status(int(entry))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if status.get("PPid") == str(zygote) and status.get("NSpid", "").split()[-1:] == ["1"]:
            found.append((int(entry), status))
    return found


def test_every_warm_child_has_the_reaper_as_its_pid_1(sandbox: SandboxRunner) -> None:
    zygote = sandbox.zygote_pid
    assert zygote is not None and sandbox.uid is not None
    slot_uid = str(sandbox.uid)
    deadline = time.monotonic() + 10
    while True:  # until the children are warm: each PID 1 past its setup
        inits = _namespace_inits(zygote)
        settled = [(pid, s) for pid, s in inits if s["Uid"].split()[0] == slot_uid]
        if len(settled) >= sandbox.config.warm or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(settled) >= sandbox.config.warm, inits
    for pid, status in settled:
        assert status["Uid"].split() == [slot_uid] * 4
        assert status["CapEff"] == "0000000000000000"
        assert _ignores_sigchld(status)
        assert os.readlink(f"/proc/{pid}/root") != "/"  # chrooted into the staged root
