"""The writer lock: serialises jobs that change snapshots.

Redis (SET NX PX + fencing counter, compare-and-delete) when it is up; otherwise a file lock
on a local lake or a lease object in the bucket. The lock keeps honest writers apart; the
snapshot commit's create-if-absent version document is the fence that keeps even a writer
that lost its lock from corrupting anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bucketpipe.config.errors import LockBusy, ObjectNotFound
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.layout import LOCKS, check_name
from bucketpipe.lake.storage import LocalStore, ObjectStore

log = logging.getLogger(__name__)


@dataclass
class LockHandle:
    """Who holds the lock and how: `redis`, `file` or `bucket`."""

    name: str
    kind: str
    token: str
    fence: int | None = None
    lost: bool = False


def _lease_key(name: str) -> str:
    return f"{LOCKS}/{name}.json"


@contextlib.contextmanager
def writer_lock(
    name: str,
    *,
    store: ObjectStore,
    signals: Signals,
    ttl_seconds: int = 300,
    wait_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LockHandle]:
    """Hold the writer lock `name` for the duration of the block; `LockBusy` if taken."""
    check_name(name, "lock")
    deadline = time.monotonic() + wait_seconds
    while True:
        handle = _try_acquire(name, store, signals, ttl_seconds)
        if handle is not None:
            break
        if time.monotonic() >= deadline:
            raise LockBusy(
                f"another run holds the '{name}' lock; it will be retried on the next schedule"
            )
        sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(handle, store, signals, ttl_seconds, stop), daemon=True
    )
    renewer.start()
    try:
        yield handle
    finally:
        stop.set()
        renewer.join(timeout=5)
        _release(handle, store, signals)


def _try_acquire(
    name: str, store: ObjectStore, signals: Signals, ttl_seconds: int
) -> LockHandle | None:
    if signals.configured:
        got = signals.try_lock(name, ttl_seconds * 1000)
        if got is False:
            return None
        if isinstance(got, tuple):
            return LockHandle(name=name, kind="redis", token=got[0], fence=got[1])
        # Redis configured but down: fall through to the storage lock.
    if isinstance(store, LocalStore):
        return _file_lock(name, store)
    return _lease(name, store, ttl_seconds)


def _file_lock(name: str, store: LocalStore) -> LockHandle | None:
    path = store.root / LOCKS / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return LockHandle(name=name, kind="file", token=str(fd))


def _lease(name: str, store: ObjectStore, ttl_seconds: int) -> LockHandle | None:
    token = secrets.token_hex(16)
    key = _lease_key(name)
    body = _lease_body(token, ttl_seconds)
    if store.put_new(key, body, "application/json"):
        return LockHandle(name=name, kind="bucket", token=token)
    try:
        held = json.loads(store.get(key))
        expired = datetime.fromisoformat(held["expires_at"]) < datetime.now(UTC)
    except (ObjectNotFound, ValueError, KeyError):
        expired = True
    if not expired:
        return None
    log.warning("taking over an expired bucket lease", extra={"lock": name})
    store.delete([key])
    if store.put_new(key, body, "application/json"):
        return LockHandle(name=name, kind="bucket", token=token)
    return None


def _lease_body(token: str, ttl_seconds: int) -> bytes:
    expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    return json.dumps({"token": token, "expires_at": expires.isoformat()}).encode()


def _renew(
    handle: LockHandle,
    store: ObjectStore,
    signals: Signals,
    ttl_seconds: int,
    stop: threading.Event,
) -> None:
    while not stop.wait(max(1.0, ttl_seconds / 3)):
        if handle.kind == "redis":
            if not signals.extend_lock(handle.name, handle.token, ttl_seconds * 1000):
                handle.lost = True
                log.warning(
                    "writer lock lost; the commit fence still protects the data",
                    extra={"lock": handle.name},
                )
        elif handle.kind == "bucket":
            store.put(_lease_key(handle.name), _lease_body(handle.token, ttl_seconds))


def _release(handle: LockHandle, store: ObjectStore, signals: Signals) -> None:
    if handle.kind == "redis":
        signals.release_lock(handle.name, handle.token)
    elif handle.kind == "file":
        fd = int(handle.token)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    elif handle.kind == "bucket":
        try:
            held = json.loads(store.get(_lease_key(handle.name)))
        except (ObjectNotFound, ValueError):
            return
        if held.get("token") == handle.token:
            store.delete([_lease_key(handle.name)])


def lock_file_path(store: LocalStore, name: str) -> Path:
    return store.root / LOCKS / f"{name}.lock"
