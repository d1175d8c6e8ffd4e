"""A directory used as the lake (the embedded default): atomic writes, exclusive creates."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bucketpipe.config.errors import ObjectNotFound, StorageError
from bucketpipe.lake.objects import ObjectInfo


class LocalStore:
    """A directory used as a bucket. Writes are atomic (temp file + rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def url(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents and path != self.root:
            raise StorageError(f"key {key!r} escapes the lake directory")
        return path

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"{key} does not exist in {self.url}") from None
        except IsADirectoryError:
            raise ObjectNotFound(f"{key} is a directory in {self.url}") from None

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"{key} does not exist in {self.url}") from None

    def _tmp_for(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        tmp = self._tmp_for(path)
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    def put_new(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        path = self._path(key)
        tmp = self._tmp_for(path)
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # atomic create-if-absent
            except FileExistsError:
                return False
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def upload(self, key: str, path: Path, content_type: str | None = None) -> None:
        dest = self._path(key)
        tmp = self._tmp_for(dest)
        try:
            shutil.copyfile(path, tmp)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)

    def _info(self, path: Path) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(
            key=path.relative_to(self.root).as_posix(),
            size=st.st_size,
            etag=f"{st.st_mtime_ns:x}-{st.st_size:x}",
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
        )

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        return self._info(path) if path.is_file() else None

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            return
        # Walk only the directory that can contain the prefix.
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                if path.relative_to(self.root).as_posix().startswith(prefix):
                    found.append(path)
        for path in sorted(found, key=lambda p: p.relative_to(self.root).as_posix()):
            with contextlib.suppress(FileNotFoundError):
                yield self._info(path)

    def list_dirs(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(
            f"{prefix}{p.name}/"
            for p in base.iterdir()
            if p.is_dir() and not p.name.startswith(".")
        )

    def delete(self, keys: Iterable[str]) -> int:
        count = 0
        for key in keys:
            self._path(key).unlink(missing_ok=True)
            count += 1
        return count

    def duckdb_path(self, key: str) -> str:
        return str(self.root / key)
