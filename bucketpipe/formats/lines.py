"""Lines longer than the line cap, found in one streaming pass and cut out of a text file.

DuckDB's CSV reader cannot be trusted with an over-long line: it fails the whole file, or with
`store_rejects` silently drops the line. So a text file is scanned first. Reading in chunks no
longer than the cap, a line that fits inside one chunk is short by construction, and only the
line running across a chunk boundary needs counting: the scan costs a few C-level searches per
chunk, whatever the number of lines. The usual file has no long line and is read as it is;
otherwise a copy without the long lines is written (within the scratch bound) and each long
line is reported with its number, size and first bytes, for quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bucketpipe.formats.bounds import CHUNK, CappedWriter, Limits, open_capped

HEAD = 1024  # bytes of a long line kept for its quarantine row


@dataclass(frozen=True)
class LongLine:
    """A line over the cap: its 1-based number, its size in bytes, where it is, how it starts."""

    number: int
    size: int
    start: int
    end: int  # offset just past its newline (or the end of the file)
    head: bytes

    def reason(self, limit: int) -> str:
        return f"line of {self.size} bytes: longer than BUCKETPIPE_SOURCE_MAX_LINE_BYTES ({limit})"

    def preview(self) -> str:
        text = self.head.decode("utf-8", errors="replace")
        return text + " …" if self.size > len(self.head) else text


def find_long_lines(stream: IO[bytes], limit: int) -> list[LongLine]:
    """Every line of the stream longer than `limit` bytes (newline not counted)."""
    size = max(1, min(CHUNK, limit))
    found: list[LongLine] = []
    number, start, offset, head = 1, 0, 0, b""
    while chunk := stream.read(size):
        first = chunk.find(b"\n")
        if first < 0:
            head = head if len(head) >= HEAD else head + chunk[: HEAD - len(head)]
            offset += len(chunk)
            continue
        end = offset + first
        if end - start > limit:
            head = head if len(head) >= HEAD else head + chunk[: min(first, HEAD - len(head))]
            found.append(LongLine(number, end - start, start, end + 1, head))
        newlines = chunk.count(b"\n")
        number += newlines
        last = chunk.rfind(b"\n")
        start = offset + last + 1
        head = chunk[last + 1 : last + 1 + HEAD]
        offset += len(chunk)
    if offset - start > limit:
        found.append(LongLine(number, offset - start, start, offset, head))
    return found


def without_lines(
    open_stream: Callable[[], IO[bytes]], lines: list[LongLine], dest: Path, limits: Limits
) -> Path:
    """Copy the stream to `dest` leaving out the given lines (byte ranges), within bounds."""
    cuts = sorted((line.start, line.end) for line in lines)
    with open_stream() as src, CappedWriter(dest, limits) as out:
        offset = 0
        while chunk := src.read(CHUNK):
            begin, stop = offset, offset + len(chunk)
            pos = begin
            for cut_start, cut_end in cuts:
                if cut_end <= pos or cut_start >= stop:
                    continue
                if cut_start > pos:
                    out.write(chunk[pos - begin : cut_start - begin])
                pos = max(pos, min(cut_end, stop))
            if pos < stop:
                out.write(chunk[pos - begin :])
            offset = stop
    return dest


def cut_long_lines(
    path: Path, compression: str, limits: Limits, dest: Path
) -> tuple[Path, list[LongLine]]:
    """The file without its lines over the cap (a plain copy at `dest` when it has any, else
    `path` as it is), and those lines."""
    with open_capped(path, compression, limits) as stream:
        long = find_long_lines(stream, limits.max_line)
    if not long:
        return path, []
    return without_lines(lambda: open_capped(path, compression, limits), long, dest, limits), long
