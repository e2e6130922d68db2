"""Network namespaces joined by a bridge: several "hosts" on one machine (needs root).

Every node (Redis, the web, each worker, the test's client) gets a network namespace of its
own with one veth interface; the other end of each veth sits in a *hub* namespace that holds
the bridge. Nothing is added to the machine's own network namespace: no interface, no route,
no address. The subnet (10.77.0.0/24) exists only inside namespaces this module creates, so
two runs side by side (two helpers, CI) use the same addresses without meeting, and traffic
between nodes can reach nothing else.

Namespace names carry the creating process's pid, so :func:`sweep_stale` can remove what a
run that was killed outright left behind without touching a run that is still alive.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.77.0"
PREFIX = "tgc"  # torch-grader cluster
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


class NetnsError(RuntimeError):
    """A namespace could not be set up (not root, no ``ip``, no veth or bridge support)."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth pairs and a bridge)"
    if subprocess.run(["ip", "-V"], capture_output=True, check=False).returncode != 0:
        return "needs iproute2 (ip)"
    return None


@dataclass(frozen=True)
class Node:
    """One 'host': a network namespace with one address on the bridge."""

    role: str
    netns: str
    address: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this node's namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]


@dataclass
class Network:
    """The hub (bridge) and the nodes around it; :meth:`destroy` removes everything."""

    tag: str = field(default_factory=lambda: f"{PREFIX}{os.getpid()}x{secrets.token_hex(2)}")
    nodes: dict[str, Node] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    @property
    def hub(self) -> str:
        return f"{self.tag}-hub"

    def create(self) -> Network:
        """Make the hub namespace with its bridge."""
        problem = available()
        if problem:
            raise NetnsError(problem)
        _ip("netns", "add", self.hub)
        self.created.append(self.hub)
        _ip("-n", self.hub, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        return self

    def add_node(self, role: str, host: int) -> Node:
        """A namespace ``role`` at ``10.77.0.<host>``, cabled to the bridge."""
        netns = f"{self.tag}-{role}"
        address = f"{SUBNET}.{host}"
        _ip("netns", "add", netns)
        self.created.append(netns)
        port = f"p{host}"
        # Both ends are created straight in their namespaces: never in the machine's own.
        _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", netns)
        _ip("-n", self.hub, "link", "set", port, "master", "br0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        node = Node(role, netns, address)
        self.nodes[role] = node
        return node

    def pids(self, node: Node) -> list[int]:
        """Every process in the node: those in its namespace and all their descendants
        (sandboxed children live in network namespaces of their own)."""
        result = subprocess.run(["ip", "netns", "pids", node.netns], capture_output=True,
                                text=True, check=False)
        roots = {int(p) for p in result.stdout.split()}
        return sorted(roots | _descendants(roots))

    def kill_node(self, node: Node) -> int:
        """SIGKILL every process of the node at once, as a power cut would; returns how many
        processes died. Repeats until none is left (a fork may race the first sweep)."""
        killed: set[int] = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = [p for p in self.pids(node) if p not in killed or _alive(p)]
            if not pids:
                return len(killed)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.05)
        raise NetnsError(f"processes of {node.role} survived SIGKILL: {self.pids(node)}")

    def destroy(self) -> None:
        """Kill what runs in the nodes and delete every namespace made (the bridge and the
        veth pairs go with them). Safe to call twice."""
        for node in list(self.nodes.values()):
            with contextlib.suppress(NetnsError):
                self.kill_node(node)
        for netns in reversed(self.created):
            with contextlib.suppress(NetnsError):
                _ip("netns", "del", netns)
        self.created.clear()
        self.nodes.clear()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _descendants(roots: set[int]) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found and child not in roots:
                found.add(child)
                todo.append(child)
    return found


@contextlib.contextmanager
def inside(node: Node) -> Iterator[None]:
    """Run this thread in ``node``'s network namespace: sockets it opens meanwhile live there
    (and keep living there afterwards). The thread returns to its own namespace on exit."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(NETNS_DIR / node.netns, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise NetnsError(f"setns into {node.netns}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:  # pragma: no cover - cannot fail as root
                raise NetnsError("could not return to the original network namespace")
    finally:
        os.close(own)
        os.close(target)


def sweep_stale() -> list[str]:
    """Delete namespaces of earlier runs whose process is gone; returns their names."""
    removed = []
    names = sorted(p.name for p in NETNS_DIR.glob(f"{PREFIX}*")) if NETNS_DIR.is_dir() else []
    for name in names:
        digits = name[len(PREFIX):].split("x", 1)[0]
        if digits.isdigit() and not _alive(int(digits)):
            with contextlib.suppress(NetnsError):
                # Processes left in it die first, else the namespace outlives its file.
                pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                      text=True, check=False).stdout.split()
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                _ip("netns", "del", name)
                removed.append(name)
    return removed
