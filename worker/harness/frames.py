"""Frames on the result channel: an 8-byte big-endian length, then an ``.npz`` payload.

Frame types (the ``type`` key of the payload's header): ``ready``, ``loaded``, ``load_error`` (with
``error``), ``start`` (with ``case``), ``case`` (with ``observation``), ``done``.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from worker.observation import pack

LENGTH = struct.Struct(">Q")


def write_frame(fd: int, header: dict[str, Any], arrays: list[np.ndarray] | None = None) -> None:
    """Write one frame to ``fd``, retrying short writes."""
    payload = pack(header, arrays or [])
    data = memoryview(LENGTH.pack(len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


class FrameReader:
    """Splits a byte stream into frame payloads."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.buffer = bytearray()
        self.max_frame_bytes = max_frame_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the payloads now complete. Raises ValueError on an oversized frame."""
        self.buffer.extend(data)
        frames = []
        while len(self.buffer) >= LENGTH.size:
            (length,) = LENGTH.unpack_from(self.buffer)
            if length > self.max_frame_bytes:
                raise ValueError(f"a frame of {length} bytes exceeds {self.max_frame_bytes}")
            if len(self.buffer) < LENGTH.size + length:
                break
            frames.append(bytes(self.buffer[LENGTH.size : LENGTH.size + length]))
            del self.buffer[: LENGTH.size + length]
        return frames
