"""What every object store offers (a bucket or a directory): the interface and an object's
listing entry. Keys are relative to the store's root."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing says about one object. `key` is relative to the store's root."""

    key: str
    size: int
    etag: str
    last_modified: datetime


@runtime_checkable
class ObjectStore(Protocol):
    """The operations Bucketpipe needs from a bucket. Keys are relative to the store's root."""

    @property
    def url(self) -> str:
        """The root, as the user wrote it (`s3://bucket/prefix` or an absolute directory)."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; `ObjectNotFound` if it does not exist."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """A streaming reader of the object (for large files)."""
        ...

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Create or replace an object in one atomic step."""
        ...

    def put_new(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        """Create an object only if the key is free; False if it already exists."""
        ...

    def upload(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Upload a local file (multipart for large files)."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """Size, etag and time of an object, or None."""
        ...

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, in key order."""
        ...

    def list_dirs(self, prefix: str) -> list[str]:
        """The immediate 'sub-folders' below `prefix` (which ends with `/`)."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Delete objects (missing ones are fine); the number of keys asked."""
        ...

    def duckdb_path(self, key: str) -> str:
        """How DuckDB addresses the object (`s3://...` or an absolute path)."""
        ...


def join_key(prefix: str, key: str) -> str:
    """`key` under `prefix` (a store's root inside its bucket)."""
    return f"{prefix.rstrip('/')}/{key}" if prefix else key
