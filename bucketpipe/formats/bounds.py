"""The bounds every source file is read within: bytes it may unpack to, bytes it may take in
scratch space, the longest line. A file past a bound is refused with the reason (`TooLarge`),
never read further: memory and disk stay bounded whatever the file holds.
"""

from __future__ import annotations

import gzip
import io
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from bucketpipe.config.values import GIB, MIB

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from bucketpipe.config.settings import Settings

CHUNK = 8 * MIB


class UnreadableFile(Exception):
    """A source file that cannot be parsed; the message is the reason shown to users."""


class TooLarge(UnreadableFile):
    """A file past one of its bounds; the message says which and how to raise it."""


@dataclass(frozen=True)
class Limits:
    """How far one source file may go (from settings; the defaults are the settings')."""

    max_decompressed: int = 8 * GIB
    max_line: int = 8 * MIB
    scratch: int | None = None  # bytes a file may take on disk; None: no bound

    @classmethod
    def from_settings(cls, settings: Settings, scratch: int | None = None) -> Limits:
        return cls(
            max_decompressed=settings.source_max_decompressed_bytes,
            max_line=settings.source_max_line_bytes,
            scratch=scratch,
        )

    def unpacked_too_large(self, size: int | None = None) -> TooLarge:
        what = f"to {size} bytes" if size is not None else "past it"
        return TooLarge(
            f"unpacks {what}: over BUCKETPIPE_SOURCE_MAX_DECOMPRESSED_BYTES "
            f"({self.max_decompressed}); not read further"
        )

    def no_room(self, needed: str) -> TooLarge:
        return TooLarge(
            f"needs {needed} of scratch space, over the {self.scratch} bytes a file may take "
            "(BUCKETPIPE_SCRATCH_BYTES minus the spill cap and a margin)"
        )


class CappedReader:
    """A binary stream that refuses to yield more than `limit` bytes (`TooLarge`), and turns
    the errors of a damaged gzip stream into `UnreadableFile` with the reason."""

    def __init__(self, inner: IO[bytes], limits: Limits) -> None:
        self.inner = inner
        self.limits = limits
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        # Never more than one chunk at once: `read()` of a bomb must not allocate the bomb.
        want = CHUNK if size is None or size < 0 or size > CHUNK else size
        try:
            data = self.inner.read(want)
        except EOFError:
            raise UnreadableFile(
                "truncated gzip data: the file ends inside the compressed stream"
            ) from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise UnreadableFile(f"not valid gzip data ({exc})") from None
        self.count += len(data)
        if self.count > self.limits.max_decompressed:
            raise self.limits.unpacked_too_large()
        if size is None or size < 0:
            parts = [data]
            while data:
                data = self.read(CHUNK)
                parts.append(data)
            return b"".join(parts)
        return data

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> CappedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_capped(path: Path, compression: str, limits: Limits) -> IO[bytes]:
    """The file's bytes, gunzipped on the fly when compressed, within `limits`."""
    inner: IO[bytes] = (
        cast(IO[bytes], gzip.GzipFile(path, "rb")) if compression == "gzip" else path.open("rb")
    )
    return cast(IO[bytes], CappedReader(inner, limits))


class CappedWriter(io.RawIOBase):
    """A file opened for writing that refuses to grow past the scratch bound (`TooLarge`).
    Wrap it in `io.TextIOWrapper(io.BufferedWriter(...))` to write text."""

    def __init__(self, path: Path, limits: Limits) -> None:
        super().__init__()
        self.path = path
        self.limits = limits
        self.count = 0
        self._fh: IO[bytes] = path.open("wb")

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        self.count += memoryview(data).nbytes
        if self.limits.scratch is not None and self.count > self.limits.scratch:
            raise self.limits.no_room(f"more than {self.limits.scratch} bytes")
        return self._fh.write(data)

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


def copy_capped(src: IO[bytes], dest: Path, limits: Limits) -> int:
    """Copy a stream into `dest` within the scratch bound; the bytes copied."""
    with CappedWriter(dest, limits) as out:
        shutil.copyfileobj(src, cast(IO[bytes], out), CHUNK)
        return out.count
