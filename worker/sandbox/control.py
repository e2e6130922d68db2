"""The control channel between a runner and its zygote: typed messages, descriptors alongside.

One ``SOCK_SEQPACKET`` socket pair per zygote; each message is one JSON packet, validated on
receipt. The zygote never receives learner code or cases: jobs travel from the runner straight
to the pre-forked child on that child's own pipe, whose end the zygote hands over here.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

MAX_MESSAGE = 1 << 16
WARM_FDS = 6  # job (write end), result (read end), status (read end), output memfd, pidfd,
# inputs memfd (see worker.shared_inputs)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Message):
    """What the runner tells the zygote at start (argv), nothing secret."""

    strict: bool = True
    uid: int | None = None
    warm: int = 3
    hidden: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    state_dir: str
    max_processes: int = 64
    max_threads: int = 4
    job_tmpfs_bytes: int = 32 * 2**20
    max_memory_bytes: int | None = None
    preload: tuple[str, ...] = ()


class Hello(_Message):
    """The zygote is ready: what each layer's status is (None: on)."""

    type: Literal["hello"] = "hello"
    pid: int
    layers: dict[str, str | None]
    landlock: str = ""


class Refuse(_Message):
    """Strict mode and a layer is missing: the zygote exits after sending this."""

    type: Literal["refuse"] = "refuse"
    missing: dict[str, str]


class Warm(_Message):
    """A pre-forked, isolated child is waiting for a job; its descriptors come with this."""

    type: Literal["warm"] = "warm"
    id: int
    learner: int


class Failed(_Message):
    """Setting up a child failed; the zygote stops making children."""

    type: Literal["failed"] = "failed"
    error: str


class Took(_Message):
    """The runner used a warm child: the zygote prepares another."""

    type: Literal["took"] = "took"
    id: int


class Quit(_Message):
    """Stop: kill every child and exit."""

    type: Literal["quit"] = "quit"


FromZygote = Annotated[Hello | Refuse | Warm | Failed, Field(discriminator="type")]
ToZygote = Annotated[Took | Quit, Field(discriminator="type")]
_from_zygote: TypeAdapter[Hello | Refuse | Warm | Failed] = TypeAdapter(FromZygote)
_to_zygote: TypeAdapter[Took | Quit] = TypeAdapter(ToZygote)


def send(sock: socket.socket, message: _Message, fds: tuple[int, ...] = ()) -> None:
    """Send one message (and descriptors) as one packet."""
    data = message.model_dump_json().encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def receive_from_zygote(sock: socket.socket) -> tuple[Hello | Refuse | Warm | Failed, list[int]]:
    """One message from the zygote; raises EOFError when it is gone."""
    data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, WARM_FDS)
    if not data:
        for fd in fds:
            _close(fd)
        raise EOFError("the zygote closed its control channel")
    return _from_zygote.validate_json(data), fds


def receive_from_runner(sock: socket.socket) -> Took | Quit | None:
    """One message from the runner; None when the runner is gone."""
    data = sock.recv(MAX_MESSAGE)
    if not data:
        return None
    return _to_zygote.validate_json(data)


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
