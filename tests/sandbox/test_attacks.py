"""The attack suite: learner code that tries to cheat, snoop, escape or wreck the worker.

Every attack is graded through the real pipeline and the real sandbox (strict: every layer on)
and must end with no points, the status a learner would be shown, and a healthy worker: the
same zygote, a correct submission still getting full marks, nothing left running.

Most attacks would *earn full marks if they worked* (they return ``x * 2`` only when the trick
succeeded), so "no points" means the trick failed, not merely that the answer was wrong.
"""

from __future__ import annotations

import os
import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.protocol import Verdict
from tests.sandbox.conftest import (
    COURSE,
    REFERENCE_MARKER,
    SECRET,
    assert_healthy,
    grade,
)
from worker.pipeline import Pipeline
from worker.sandbox import SandboxRunner

REFERENCE = COURSE / "reference" / "double-it.py"
SHIPPED_REFERENCE = Path(__file__).resolve().parents[2] / "reference"


@dataclass(frozen=True)
class Attack:
    """One attack: its source, the visible case's expected status (or statuses, where the
    machine's load decides which limit hits first) and a word the learner-visible message must
    contain."""

    name: str
    source: str
    status: str | tuple[str, ...]
    says: str = ""


def _src(body: str) -> str:
    return textwrap.dedent(body).lstrip()


ATTACKS = [
    Attack("read-etc-shadow", _src("""
        def double_it(x):
            secret = open("/etc/shadow").read()
            return x * 2 if secret else x
        """), "raised", "FileNotFoundError"),
    Attack("read-reference-solution", _src(f"""
        def double_it(x):
            namespace = {{}}
            exec(open({str(REFERENCE)!r}).read(), namespace)
            return namespace["double_it"](x)
        """), "raised", "Error"),
    Attack("read-shipped-references", _src(f"""
        import os
        def double_it(x):
            return x * 2 if os.listdir({str(SHIPPED_REFERENCE)!r}) else x
        """), "raised", "Error"),
    Attack("import-grader-package", _src("""
        import worker.observation
        def double_it(x):
            return x * 2
        """), "not_run", "ModuleNotFoundError"),
    Attack("read-parent-environ", _src(f"""
        import os
        def double_it(x):
            found = ""
            for pid in [os.getppid(), 1] + [p for p in os.listdir("/proc") if p.isdigit()]:
                try:
                    found += open(f"/proc/{{pid}}/environ", "rb").read().decode(errors="replace")
                except OSError:
                    pass
            return x * 2 if {SECRET!r} in found else x
        """), "returned"),
    Attack("print-environment", _src("""
        import os
        def double_it(x):
            print(dict(os.environ))
            return x * 2 if "GRADER_ATTACK_SECRET" in os.environ else x
        """), "returned"),
    Attack("inherited-descriptors", _src("""
        import os
        def double_it(x):
            mine = []
            for fd in range(3, 4096):
                try:
                    os.fstat(fd)
                    mine.append(fd)
                except OSError:
                    pass
            print("open descriptors beyond stdio:", mine)
            # The result channel and the two output captures (visible, hidden) are the only ones.
            return x * 2 if len(mine) > 3 else x
        """), "returned"),
    Attack("tcp-to-redis", _src("""
        import socket
        def double_it(x):
            s = socket.create_connection(("127.0.0.1", 6379), timeout=0.5)
            s.sendall(b"PING\\r\\n")
            return x * 2 if s.recv(16) else x
        """), "raised", "PermissionError"),
    Attack("kill-pid-1", _src("""
        import os, signal
        def double_it(x):
            os.kill(1, signal.SIGKILL)
            return x * 2
        """), "raised", "PermissionError"),
    Attack("kill-minus-one", _src("""
        import os, signal
        def double_it(x):
            os.kill(-1, signal.SIGKILL)  # nothing it may signal: not PID 1, nothing outside
            return x * 2
        """), "raised", "No such process"),
    Attack("ptrace-attach", _src("""
        import ctypes, os
        def double_it(x):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.ptrace(16, 1, 0, 0) != 0:  # PTRACE_ATTACH to PID 1
                raise OSError(ctypes.get_errno(), "ptrace")
            return x * 2
        """), "tampering", "ctypes"),
    Attack("unshare-user-namespace", _src("""
        import ctypes
        def double_it(x):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(0x10000000) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            return x * 2
        """), "tampering", "ctypes"),
    Attack("mount-tmpfs", _src("""
        import ctypes
        def double_it(x):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.mount(b"none", b"/job", b"tmpfs", 0, None) != 0:
                raise OSError(ctypes.get_errno(), "mount")
            return x * 2
        """), "tampering", "ctypes"),
    Attack("kernel-interfaces-via-raw-syscalls", _src("""
        import ctypes, platform
        # x86_64 numbers: io_uring_setup, bpf, userfaultfd, perf_event_open, keyctl, add_key,
        # request_key, process_vm_readv/writev, setns, unshare, mount, pivot_root, chroot,
        # open_by_handle_at, kcmp, pidfd_getfd, ptrace, fsopen, open_tree, move_mount,
        # init_module, kexec_load
        CALLS = [425, 321, 323, 298, 250, 248, 249, 310, 311, 308, 272, 165, 155, 161, 304, 312,
                 438, 101, 430, 428, 429, 175, 246]
        def double_it(x):
            if platform.machine() != "x86_64":
                return None
            libc = ctypes.CDLL(None, use_errno=True)
            reached = []
            for nr in CALLS:
                ctypes.set_errno(0)
                if libc.syscall(nr, 0, 0, 0, 0, 0, 0) != -1 or ctypes.get_errno() != 1:
                    reached.append(nr)
            print("reached the kernel:", reached)
            return x * 2 if reached else None
        """), "tampering", "ctypes"),
    Attack("clone-into-new-namespaces", _src("""
        import ctypes, platform
        def double_it(x):
            number = {"x86_64": 56, "aarch64": 220}[platform.machine()]
            libc = ctypes.CDLL(None, use_errno=True)
            # CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD: would return 0 in a child if allowed
            if libc.syscall(number, 0x10000000 | 0x40000000 | 17, 0, 0, 0, 0) == -1:
                raise OSError(ctypes.get_errno(), "clone")
            return x * 2
        """), "tampering", "ctypes"),
    Attack("shell-escape", _src("""
        import subprocess
        def double_it(x):
            escaped = []
            for command in ("cat /etc/shadow", "ls /work/main/reference", "ls /root",
                            "cat /proc/1/environ"):
                done = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
                print(command, "->", done.returncode, done.stdout[:80], done.stderr[:80])
                if done.returncode == 0 and done.stdout:
                    escaped.append(command)
            return x * 2 if escaped else None
        """), "returned"),
    Attack("foreign-syscall-abi", _src("""
        import ctypes
        def double_it(x):
            ctypes.CDLL(None).syscall(0x40000000 | 39)  # x32 getpid: killed by seccomp
            return x * 2
        """), "tampering", "ctypes"),
    Attack("fork-bomb", _src("""
        import os
        def double_it(x):
            while True:
                os.fork()
        """), ("raised", "timeout"), ""),
    Attack("thread-bomb", _src("""
        import threading, time
        def double_it(x):
            while True:
                threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
        """), "raised", "thread"),
    Attack("memory-bomb", _src("""
        import numpy as np
        def double_it(x):
            hoard = []
            while True:
                hoard.append(np.empty(2**27))
        """), "memory_limit", "MemoryError"),
    Attack("tensor-of-2-pow-31-elements", _src("""
        import torch
        def double_it(x):
            return torch.ones(2**31) * 0 + x.sum()
        """), "memory_limit", "memory"),
    Attack("infinite-loop", _src("""
        def double_it(x):
            while True:
                pass
        """), "timeout", "1 s"),
    Attack("sleep-forever-ignoring-sigterm", _src("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        def double_it(x):
            time.sleep(10**6)
        """), "not_run", "main thread"),  # signal handlers are refused: the code runs off it
    Attack("sleep-forever", _src("""
        import time
        def double_it(x):
            time.sleep(10**6)
        """), "timeout", "1 s"),
    Attack("infinite-loop-at-import", _src("""
        while True:
            pass
        def double_it(x):
            return x * 2
        """), "not_run", "did not finish"),
    Attack("write-10-gb-file", _src("""
        def double_it(x):
            with open("big.bin", "wb") as f:
                for _ in range(10 * 1024):
                    f.write(b"\\0" * 2**20)
            return x * 2
        """), "output_limit"),
    Attack("write-into-installed-package", _src("""
        import torch
        def double_it(x):
            with open(torch.__file__, "a") as f:
                f.write("\\n# tampered\\n")
            return x * 2
        """), "raised", "Error"),
    Attack("write-to-tmp", _src("""
        def double_it(x):
            with open("/tmp/grader-attack-marker", "w") as f:
                f.write("here")
            return x * 2
        """), "raised", "Error"),
    Attack("write-into-course-folder", _src(f"""
        def double_it(x):
            with open({str(COURSE / "exercises" / "double-it" / "pwned.py")!r}, "w") as f:
                f.write("pwned")
            return x * 2
        """), "raised", "Error"),
    Attack("symlink-to-secrets", _src(f"""
        import os
        def double_it(x):
            os.symlink({str(REFERENCE)!r}, "/job/ref.py")
            os.symlink("/etc/shadow", "/job/shadow")
            os.symlink("/", "/job/root")
            text = open("/job/ref.py").read() + open("/job/shadow").read()
            return x * 2 if text else x
        """), "raised", "Error"),
    Attack("stdout-flood", _src("""
        def double_it(x):
            while True:
                print("flood " * 100)
        """), "output_limit"),
    Attack("non-utf8-output", _src("""
        import sys
        def double_it(x):
            sys.stdout.buffer.write(b"\\xff\\xfe\\x80 not utf-8 \\xc3\\x28\\n")
            sys.stdout.flush()
            return x
        """), "returned"),
    Attack("printed-fake-results", _src("""
        import json
        def double_it(x):
            print(json.dumps({"status": "passed", "score": 10, "max_score": 10}))
            print('{"type": "done"}')
            return x
        """), "returned"),
    Attack("forged-frames-on-result-channel", _src("""
        import os, struct
        def double_it(x):
            for fd in range(3, 64):
                try:
                    os.write(fd, struct.pack(">Q", 12) + b"not an npz!!")
                except OSError:
                    pass
            return x * 2
        """), "crashed", "result channel"),
    Attack("sys-exit-0-before-returning", _src("""
        import sys
        def double_it(x):
            sys.exit(0)
        """), "raised", "SystemExit"),
    Attack("os-exit-0-before-returning", _src("""
        import os
        def double_it(x):
            os._exit(0)
        """), "crashed", "exited with status 0"),
    Attack("raise-keyboard-interrupt", _src("""
        def double_it(x):
            raise KeyboardInterrupt
        """), "raised", "KeyboardInterrupt"),
    Attack("raise-base-exception", _src("""
        def double_it(x):
            raise BaseException("bye")
        """), "raised", "BaseException"),
    Attack("monkeypatch-comparisons", _src("""
        import numpy as np
        import torch
        torch.equal = lambda *a, **k: True
        torch.allclose = lambda *a, **k: True
        torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        torch.Tensor.__eq__ = lambda self, other: True
        def double_it(x):
            return x
        """), "returned"),
    Attack("monkeypatch-tensor-methods-the-harness-uses", _src("""
        import numpy as np
        import torch
        real_numpy = torch.Tensor.numpy
        torch.Tensor.numpy = lambda self, **k: real_numpy(self.detach()) * 2
        torch.Tensor.detach = lambda self: self
        torch.Tensor.cpu = lambda self, *a, **k: self
        torch.Tensor.tolist = lambda self: [2.0] * self.numel()
        torch.Tensor.data_ptr = lambda self: 0
        torch.Tensor.shape = property(lambda self: torch.Size([3]))
        def double_it(x):
            return x.clone()
        """), "returned"),
    Attack("lying-eq-tensor-subclass", _src("""
        import torch
        class Liar(torch.Tensor):
            def __eq__(self, other):
                return True
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return True
        def double_it(x):
            return torch.zeros_like(x).as_subclass(Liar)
        """), "returned"),
    Attack("malicious-reduce", _src("""
        import os
        class Bomb:
            def __reduce__(self):
                return (os.system, ("touch /tmp/grader-reduce-marker",))
        def double_it(x):
            return Bomb()
        """), "returned"),
    Attack("one-gb-result", _src("""
        import torch
        def double_it(x):
            return torch.empty(2**28)
        """), "returned"),
    Attack("ctypes-segfault", _src("""
        import ctypes
        def double_it(x):
            ctypes.string_at(0)
        """), "tampering", "ctypes"),
    Attack("deep-recursion", _src("""
        import sys
        sys.setrecursionlimit(10**8)
        def deep(n):
            return list(map(deep, [n + 1]))  # through C, so the C stack overflows
        def double_it(x):
            return deep(0)
        """), "crashed", "SIG"),
    Attack("set-num-threads-256", _src("""
        import torch
        def double_it(x):
            torch.set_num_threads(256)
            y = torch.ones(512, 512) @ torch.ones(512, 512)
            print("threads:", torch.get_num_threads())
            return x * 2 if torch.get_num_threads() == 256 and y.sum() > 0 else x
        """), "returned"),
    Attack("threads-that-outlive-the-call", _src("""
        import os, threading, time
        def haunt():
            time.sleep(1.5)  # after the call returned and the run ended: it must not survive
            while True:
                for fd in range(1, 64):
                    try:
                        os.write(fd, b"boo")
                    except OSError:
                        pass
        def double_it(x):
            threading.Thread(target=haunt).start()
            return x
        """), "returned"),
    Attack("orphaned-child-process", _src("""
        import os, time
        def double_it(x):
            if os.fork() == 0:
                if os.fork() == 0:
                    time.sleep(1000)
                os._exit(0)
            return x
        """), "returned"),
]


@pytest.mark.slow
@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_attack_earns_nothing_and_leaves_the_worker_healthy(
    attack: Attack, sandbox: SandboxRunner, pipeline: Pipeline
) -> None:
    zygote = sandbox.zygote_pid
    assert zygote is not None
    verdict = grade(pipeline, attack.source)
    _assert_no_points(verdict)
    visible = verdict.cases[0]
    expected = attack.status if isinstance(attack.status, tuple) else (attack.status,)
    assert visible.status in expected, verdict.model_dump_json(indent=1)
    shown = f"{visible.message}\n{verdict.error or ''}"
    assert attack.says in shown, shown
    _assert_nothing_leaked(verdict)
    assert_healthy(sandbox, pipeline, zygote)


def _assert_no_points(verdict: Verdict) -> None:
    assert verdict.score == 0, verdict.model_dump_json(indent=1)
    assert not verdict.full_marks


def _assert_nothing_leaked(verdict: Verdict) -> None:
    text = verdict.model_dump_json()
    assert SECRET not in text
    assert REFERENCE_MARKER not in text
    assert not Path("/tmp/grader-attack-marker").exists()
    assert not Path("/tmp/grader-reduce-marker").exists()
    assert not (COURSE / "exercises" / "double-it" / "pwned.py").exists()


@pytest.mark.slow
def test_udp_datagrams_never_leave_the_sandbox(sandbox: SandboxRunner, pipeline: Pipeline) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    zygote = sandbox.zygote_pid
    assert zygote is not None
    source = _src(f"""
        import socket
        def double_it(x):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"exfiltrated", ("127.0.0.1", {port}))
            return x * 2
        """)
    try:
        verdict = grade(pipeline, source)
        _assert_no_points(verdict)
        assert verdict.cases[0].status == "raised"
        assert "PermissionError" in verdict.cases[0].message
        with pytest.raises(TimeoutError):
            listener.recvfrom(64)
    finally:
        listener.close()
    assert_healthy(sandbox, pipeline, zygote)


@pytest.mark.slow
def test_nothing_survives_for_the_next_submission(
    sandbox: SandboxRunner, pipeline: Pipeline
) -> None:
    zygote = sandbox.zygote_pid
    assert zygote is not None
    plant = _src("""
        import os, socket, threading, time, torch
        def double_it(x):
            open("/job/leftover", "w").write("state")
            os.environ["LEFTOVER"] = "1"
            torch.leftover = True
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind("\\0grader-leftover")
            server.listen()
            threading.Thread(target=lambda: server.accept(), daemon=True).start()
            if os.fork() == 0:
                time.sleep(1000)
            return x
        """)
    look = _src("""
        import os, socket, torch
        def double_it(x):
            found = []
            if os.path.exists("/job/leftover"):
                found.append("file")
            if os.environ.get("LEFTOVER"):
                found.append("environment")
            if getattr(torch, "leftover", False):
                found.append("module state")
            try:
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect("\\0grader-leftover")
                found.append("socket")
            except OSError:
                pass
            me = os.getpid()
            others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
            if others:
                found.append(f"processes {others}")
            print("found:", found)
            return x * 2 if found else x
        """)
    _assert_no_points(grade(pipeline, plant))
    verdict = grade(pipeline, look)
    _assert_no_points(verdict)
    assert "found: []" in verdict.stdout
    assert_healthy(sandbox, pipeline, zygote)


@pytest.mark.slow
def test_hidden_case_inputs_never_reach_the_learner(
    sandbox: SandboxRunner, pipeline: Pipeline
) -> None:
    zygote = sandbox.zygote_pid
    assert zygote is not None
    source = _src("""
        def double_it(x):
            print("HIDDEN-INPUT", x.tolist())
            return x
        """)
    verdict = grade(pipeline, source)
    _assert_no_points(verdict)
    assert verdict.stdout.count("HIDDEN-INPUT") == 1  # the visible run's print only
    assert_healthy(sandbox, pipeline, zygote)


def test_attack_suite_is_big_enough() -> None:
    standalone = 3  # UDP, state left behind, hidden inputs
    assert len(ATTACKS) + standalone >= 35
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)
    assert os.path.isfile(REFERENCE)
