"""Writer locks held in the lake when Redis is not there: a file lock on a local lake, a lease
object with an expiry in a bucket (`coord.locks` falls back to them)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import lease_key, lock_file_key
from bucketpipe.lake.storage import LocalStore, ObjectStore

log = logging.getLogger(__name__)


class FileLock:
    """`flock` on `_locks/<name>.lock` of a local lake: released by the kernel if we die."""

    kind = "file"

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def acquire(self, name: str, ttl_seconds: int) -> str | None:
        """The token (the open descriptor), or None when another process holds the lock."""
        path = self.store.root / lock_file_key(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return str(fd)

    def renew(self, name: str, token: str, ttl_seconds: int) -> None:
        """A file lock does not expire."""

    def release(self, name: str, token: str) -> None:
        fd = int(token)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class BucketLease:
    """`_locks/<name>.json` in a bucket: created only if absent, taken over once expired."""

    kind = "bucket"

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def acquire(self, name: str, ttl_seconds: int) -> str | None:
        """A fresh token, or None while another holder's lease has not expired."""
        token = secrets.token_hex(16)
        key = lease_key(name)
        body = _lease_body(token, ttl_seconds)
        if self.store.put_new(key, body, "application/json"):
            return token
        try:
            held = json.loads(self.store.get(key))
            expired = datetime.fromisoformat(held["expires_at"]) < datetime.now(UTC)
        except (ObjectNotFound, ValueError, KeyError):
            expired = True
        if not expired:
            return None
        log.warning("taking over an expired bucket lease", extra={"lock": name})
        self.store.delete([key])
        if self.store.put_new(key, body, "application/json"):
            return token
        return None

    def renew(self, name: str, token: str, ttl_seconds: int) -> None:
        self.store.put(lease_key(name), _lease_body(token, ttl_seconds))

    def release(self, name: str, token: str) -> None:
        """Delete the lease if it is still ours."""
        try:
            held = json.loads(self.store.get(lease_key(name)))
        except (ObjectNotFound, ValueError):
            return
        if held.get("token") == token:
            self.store.delete([lease_key(name)])


def lease_for(store: ObjectStore) -> FileLock | BucketLease:
    """The lake's own lock: a file lock on a directory, a lease object in a bucket."""
    return FileLock(store) if isinstance(store, LocalStore) else BucketLease(store)


def _lease_body(token: str, ttl_seconds: int) -> bytes:
    expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    return json.dumps({"token": token, "expires_at": expires.isoformat()}).encode()
