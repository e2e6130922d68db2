"""Frames on the result channel: authenticated, raw, bounded.

A frame is an 8-byte big-endian length, then a body, then a 32-byte MAC::

    body = header length (4 bytes, big-endian) + header (UTF-8 JSON) + raw array bytes

The header is a JSON object with a ``type`` key (``ready``, ``loaded``, ``load_error``,
``start``, ``case``, ``done``, ``tampering``) and, when arrays follow, ``arrays``: one
``[dtype, shape]`` pair per array, whose bytes follow in order, C-contiguous, uncompressed. The
MAC is keyed BLAKE2b over the frame's sequence number (0, 1, 2, ... in the order sent) and the
body, under a per-run key the runner puts in the job; learner code that writes to the pipe by
hand cannot produce it without that key, nor replay or reorder frames.

Nothing here decompresses or allocates on the sender's word: the reader refuses a declared
length over the run's remaining budget before buffering it, and arrays are views of the body
whose sizes must add up exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

LENGTH = struct.Struct(">Q")
HEADER_LENGTH = struct.Struct(">I")
MAC_BYTES = 32
KEY_BYTES = 32
MAX_HEADER_BYTES = 16 * 2**20
# Plain numeric dtypes only: no objects, strings, structured or void types.
DTYPES = frozenset(
    f"{order}{kind}{size}" for order in "<>|" for kind, sizes in (
        ("b", (1,)), ("u", (1, 2, 4, 8)), ("i", (1, 2, 4, 8)), ("f", (2, 4, 8)), ("c", (8, 16)),
    ) for size in sizes
)


class FrameError(ValueError):
    """A frame is malformed, unauthenticated, out of sequence or over the budget."""


def new_key() -> bytes:
    """A fresh per-run MAC key."""
    return os.urandom(KEY_BYTES)


def _mac(key: bytes, seq: int, body: bytes | memoryview) -> bytes:
    mac = hashlib.blake2b(key=key, digest_size=MAC_BYTES)
    mac.update(LENGTH.pack(seq))
    mac.update(body)
    return mac.digest()


def encode_body(header: dict[str, Any], arrays: list[np.ndarray]) -> bytes:
    """A frame body (trusted-side helper: tests and the rehearsal use it)."""
    header = dict(header)
    if arrays:
        header["arrays"] = [[a.dtype.str, list(a.shape)] for a in arrays]
    text = json.dumps(header).encode()
    parts = [HEADER_LENGTH.pack(len(text)), text]
    parts += [np.ascontiguousarray(a).tobytes() for a in arrays]
    return b"".join(parts)


def seal(key: bytes, seq: int, body: bytes) -> bytes:
    """The bytes on the wire for ``body`` as the frame number ``seq``."""
    return LENGTH.pack(len(body) + MAC_BYTES) + body + _mac(key, seq, body)


def make_writer(key: bytes, fd: int) -> Callable[[dict[str, Any], list[np.ndarray]], None]:
    """A writer of sealed frames to ``fd``. Everything it calls is bound now, so that learner
    code loaded later that replaces ``json.dumps``, ``hashlib`` or ``os.write`` changes
    nothing; the key lives only in the keyed hash object in its closure."""
    base = hashlib.blake2b(key=key, digest_size=MAC_BYTES)
    copy = base.copy
    write = os.write
    pack_length = LENGTH.pack
    pack_header = HEADER_LENGTH.pack
    join = b"".join
    memview = memoryview
    to_bytes = np.ndarray.tobytes
    contiguous = np.ascontiguousarray
    dtype_str = np.dtype.str.__get__
    dtype_of = np.ndarray.dtype.__get__
    shape_of = np.ndarray.shape.__get__
    dumps = _DUMPS
    encode_text = str.encode
    as_list = list
    counter = [0]

    def write_frame(header: dict[str, Any], arrays: list[np.ndarray]) -> None:
        if arrays:
            header["arrays"] = [[dtype_str(dtype_of(a)), as_list(shape_of(a))] for a in arrays]
        text = encode_text(dumps(header))
        body = join([pack_header(len(text)), text, *[to_bytes(contiguous(a)) for a in arrays]])
        mac = copy()
        mac.update(pack_length(counter[0]))
        mac.update(body)
        counter[0] += 1
        data = memview(join([pack_length(len(body) + MAC_BYTES), body, mac.digest()]))
        while data:
            data = data[write(fd, data):]

    return write_frame


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps`` made of C-level parts bound now (``json.dumps`` itself is Python that
    looks up module globals at call time)."""
    from json import encoder

    make: Any = getattr(encoder, "c_make_encoder", None)
    escape: Any = getattr(encoder, "c_encode_basestring_ascii", None)
    if make is None or escape is None:  # pragma: no cover - CPython always has _json
        dumps = json.dumps
        return dumps

    def refuse(value: object) -> None:
        raise TypeError(f"not JSON: {type(value).__name__}")

    iterencode = make(None, refuse, escape, None, ": ", ", ",
                      False, False, True)
    join = "".join

    def dumps_c(value: Any) -> str:
        return join(iterencode(value, 0))

    return dumps_c


# Made once, at import (in the zygote, for the sandbox): each run's writer only binds it.
_DUMPS = _json_encoder()


class FrameReader:
    """Splits the result channel into authenticated frames and checks each one's size against
    what is left of the run's budget before holding it."""

    def __init__(self, key: bytes, budget: int, max_frame: int | None = None) -> None:
        self.key = key
        self.budget = budget
        self.max_frame = budget if max_frame is None else max_frame
        self.buffer = bytearray()
        self.seq = 0

    def feed(self, data: bytes) -> Iterator[tuple[dict[str, Any], list[np.ndarray]]]:
        """Add bytes; yield the frames now complete, as (header, arrays), one at a time, so
        that frames before a bad one are handled before the bad one raises
        :class:`FrameError` (on anything the harness never sends)."""
        self.buffer.extend(data)
        while len(self.buffer) >= LENGTH.size:
            (length,) = LENGTH.unpack_from(self.buffer)
            if length > min(self.budget, self.max_frame):
                raise FrameError(f"a frame of {length} bytes exceeds the "
                                 f"{min(self.budget, self.max_frame)} bytes this run may send")
            if length < MAC_BYTES + HEADER_LENGTH.size:
                raise FrameError(f"a frame of {length} bytes is too short")
            if len(self.buffer) < LENGTH.size + length:
                break
            frame = bytes(self.buffer[LENGTH.size: LENGTH.size + length])
            del self.buffer[: LENGTH.size + length]
            self.budget -= length
            body, mac = frame[:-MAC_BYTES], frame[-MAC_BYTES:]
            if not hmac.compare_digest(mac, _mac(self.key, self.seq, body)):
                raise FrameError(f"frame {self.seq} is not authenticated (forged or replayed)")
            self.seq += 1
            yield parse_body(body)


def parse_body(body: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """A body's header and arrays (views of ``body``); raises :class:`FrameError`."""
    (size,) = HEADER_LENGTH.unpack_from(body)
    if size > min(MAX_HEADER_BYTES, len(body) - HEADER_LENGTH.size):
        raise FrameError("a frame's header overruns the frame")
    try:
        header = json.loads(body[HEADER_LENGTH.size: HEADER_LENGTH.size + size].decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FrameError(f"a frame's header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise FrameError("a frame's header is not a mapping")
    specs = header.pop("arrays", [])
    if not isinstance(specs, list):
        raise FrameError("a frame's array table is not a list")
    offset = HEADER_LENGTH.size + size
    arrays = []
    for spec in specs:
        if (not isinstance(spec, list) or len(spec) != 2 or spec[0] not in DTYPES
                or not isinstance(spec[1], list) or len(spec[1]) > 32
                or not all(type(n) is int and 0 <= n < 2**40 for n in spec[1])):
            raise FrameError(f"a frame declares an array it may not carry: {str(spec)[:80]}")
        dtype = np.dtype(spec[0])
        count = 1
        for n in spec[1]:
            count *= n
        nbytes = count * dtype.itemsize
        if nbytes > len(body) - offset:
            raise FrameError("a frame's arrays overrun the frame")
        arrays.append(np.frombuffer(body, dtype=dtype, count=count, offset=offset)
                      .reshape(tuple(spec[1])))
        offset += nbytes
    if offset != len(body):
        raise FrameError("a frame carries bytes its header does not declare")
    return header, arrays
