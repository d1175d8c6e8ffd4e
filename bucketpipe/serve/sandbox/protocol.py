"""The pipe protocol between the dashboard (or CLI) and a SQL worker: length-prefixed frames.

Each message is a JSON header frame, followed for a result by one frame holding the rows as
an Arrow IPC stream. The parent reads with a deadline, so a worker that hangs or dies never
blocks it.
"""

from __future__ import annotations

import json
import os
import selectors
import struct
import time
from collections.abc import Callable
from typing import IO, Any

_LENGTH = struct.Struct(">I")
MAX_FRAME = 1 << 31


class Timeout(Exception):
    """The deadline passed before a whole frame arrived."""


class Closed(Exception):
    """The other end closed the pipe (the worker exited or was killed)."""


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def write_json(stream: IO[bytes], message: dict[str, Any]) -> None:
    write_frame(stream, json.dumps(message).encode())


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_frame_blocking(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None at end of input (the worker's side: it just waits).

    `stream` is unbuffered (the worker selects on its file descriptor), so reads may be short.
    """
    head = _read_exact(stream, _LENGTH.size)
    if head is None:
        return None
    (size,) = _LENGTH.unpack(head)
    return _read_exact(stream, size)


class FrameReader:
    """Reads frames from a worker's pipe with a deadline, calling `tick` while it waits."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._selector = selectors.DefaultSelector()
        self._selector.register(fd, selectors.EVENT_READ)

    def read(
        self, deadline: float, tick: Callable[[], None] | None = None, every: float = 0.05
    ) -> bytes:
        while True:
            frame = self._take()
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout
            if self._selector.select(min(left, every)):
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    raise Closed
                self._buffer += chunk
            if tick is not None:
                tick()

    def read_json(self, deadline: float, tick: Callable[[], None] | None = None) -> Any:
        return json.loads(self.read(deadline, tick))

    def _take(self) -> bytes | None:
        if len(self._buffer) < _LENGTH.size:
            return None
        (size,) = _LENGTH.unpack_from(self._buffer)
        if size > MAX_FRAME:
            raise Closed
        end = _LENGTH.size + size
        if len(self._buffer) < end:
            return None
        frame = bytes(self._buffer[_LENGTH.size : end])
        del self._buffer[:end]
        return frame

    def close(self) -> None:
        self._selector.close()
