"""The writer lock: serialises jobs that change snapshots.

Redis (SET NX PX + fencing counter, compare-and-delete) when it is up; otherwise a fallback
held in the lake (`bucketpipe.lake.leases`: a file lock on a local lake, a lease object in the
bucket), which the caller passes in (`Context.writer_lock`). The lock keeps honest writers
apart; the snapshot commit's create-if-absent version document is the fence that keeps even a
writer that lost its lock from corrupting anything.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from bucketpipe.config.errors import LockBusy
from bucketpipe.coord.signals import Signals

log = logging.getLogger(__name__)

# Clean, rebuild and compaction all hold this one lock: they all change snapshots.
WRITER_LOCK = "writer"


class Fallback(Protocol):
    """A lock held outside Redis; `acquire` gives a token, or None while someone holds it."""

    @property
    def kind(self) -> str: ...

    def acquire(self, name: str, ttl_seconds: int) -> str | None: ...

    def renew(self, name: str, token: str, ttl_seconds: int) -> None: ...

    def release(self, name: str, token: str) -> None: ...


@dataclass
class LockHandle:
    """Who holds the lock and how: `redis`, `file` or `bucket`."""

    name: str
    kind: str
    token: str
    fence: int | None = None
    lost: bool = False


@contextlib.contextmanager
def writer_lock(
    name: str,
    *,
    signals: Signals,
    fallback: Fallback,
    ttl_seconds: int = 300,
    wait_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LockHandle]:
    """Hold the writer lock `name` for the duration of the block; `LockBusy` if taken."""
    deadline = time.monotonic() + wait_seconds
    while True:
        handle = _try_acquire(name, signals, fallback, ttl_seconds)
        if handle is not None:
            break
        if time.monotonic() >= deadline:
            raise LockBusy(
                f"another run holds the '{name}' lock; it will be retried on the next schedule"
            )
        sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(handle, signals, fallback, ttl_seconds, stop), daemon=True
    )
    renewer.start()
    try:
        yield handle
    finally:
        stop.set()
        renewer.join(timeout=5)
        _release(handle, signals, fallback)


def _try_acquire(
    name: str, signals: Signals, fallback: Fallback, ttl_seconds: int
) -> LockHandle | None:
    if signals.configured:
        got = signals.try_lock(name, ttl_seconds * 1000)
        if got is False:
            return None
        if isinstance(got, tuple):
            return LockHandle(name=name, kind="redis", token=got[0], fence=got[1])
        # Redis configured but down: fall through to the lake's lock.
    token = fallback.acquire(name, ttl_seconds)
    return None if token is None else LockHandle(name=name, kind=fallback.kind, token=token)


def _renew(
    handle: LockHandle,
    signals: Signals,
    fallback: Fallback,
    ttl_seconds: int,
    stop: threading.Event,
) -> None:
    while not stop.wait(max(1.0, ttl_seconds / 3)):
        if handle.kind != "redis":
            fallback.renew(handle.name, handle.token, ttl_seconds)
        elif not signals.extend_lock(handle.name, handle.token, ttl_seconds * 1000):
            handle.lost = True
            log.warning(
                "writer lock lost; the commit fence still protects the data",
                extra={"lock": handle.name},
            )


def _release(handle: LockHandle, signals: Signals, fallback: Fallback) -> None:
    if handle.kind == "redis":
        signals.release_lock(handle.name, handle.token)
    else:
        fallback.release(handle.name, handle.token)
