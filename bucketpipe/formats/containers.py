"""Workbooks and Parquet files checked whole before they count as readable, within bounds.

An xlsx workbook is a zip archive. Before openpyxl opens it: the archive's directory (read from
its end record, not parsed whole) has at most `MAX_PARTS` entries; its parts declare at most the
decompressed cap in all (Python's zipfile never yields more than a part declares: a part that
lies fails its CRC check), every part openpyxl holds in memory (shared strings, styles) at most
`PART_MAX`, and every worksheet row at most the line cap, so openpyxl, which holds one row at a
time, stays small. A Parquet file is decoded whole, page by page with checksums verified where
the writer stored them, counting decoded bytes against the decompressed cap.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

from bucketpipe.config.values import MIB
from bucketpipe.formats.bounds import CHUNK, Limits, TooLarge, UnreadableFile

MAX_PARTS = 10_000
PART_MAX = 64 * MIB
# Row elements of SpreadsheetML, with or without a namespace prefix (`<row ` or `<x:row `).
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
_SHEET_DATA_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?sheetData>")
_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"


def check_workbook(path: Path, limits: Limits) -> None:
    """Refuse (`UnreadableFile`, `TooLarge`) a workbook past its bounds; else return."""
    entries = zip_entries(path)
    if entries > MAX_PARTS:
        raise TooLarge(f"a zip archive of {entries} parts: more than the {MAX_PARTS} read")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            declared = sum(info.file_size for info in infos)
            if declared > limits.max_decompressed:
                raise limits.unpacked_too_large(declared)
            for info in infos:
                if not _is_worksheet(info.filename) and info.file_size > PART_MAX:
                    raise TooLarge(
                        f"part {info.filename} unpacks to {info.file_size} bytes, more than the "
                        f"{PART_MAX} a workbook's part other than a sheet may hold"
                    )
            for info in infos:
                if _is_worksheet(info.filename):
                    _check_rows(archive, info, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise UnreadableFile(f"not a readable xlsx workbook ({exc})") from None


def zip_entries(path: Path) -> int:
    """How many entries a zip archive's end record declares (zip64 too), without reading its
    central directory; `UnreadableFile` when there is no end record."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = max(0, size - 65_557)  # the end record: 22 bytes and a comment of up to 64 KiB
        fh.seek(start)
        tail = fh.read()
        at = tail.rfind(_END_OF_DIRECTORY)
        if at < 0 or len(tail) < at + 22:
            raise UnreadableFile("not a readable xlsx workbook (no zip directory at its end)")
        entries = int(struct.unpack_from("<H", tail, at + 10)[0])
        locator = at - 20
        if entries != 0xFFFF or locator < 0 or tail[locator : locator + 4] != _ZIP64_LOCATOR:
            return entries
        (offset,) = struct.unpack_from("<Q", tail, locator + 8)
        fh.seek(offset)
        record = fh.read(56)
    if len(record) < 56 or record[:4] != _ZIP64_END:
        raise UnreadableFile("not a readable xlsx workbook (a broken zip64 directory)")
    return int(struct.unpack_from("<Q", record, 32)[0])


def _is_worksheet(name: str) -> bool:
    return name.startswith("xl/worksheets/") and name.endswith(".xml")


def _check_rows(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> None:
    """Stream a worksheet's XML; refuse it if a row's XML is longer than the line cap."""
    offset = 0  # bytes of the part before `data`
    last = -1  # offset of the last row start seen (-1: none yet)
    tail = b""
    rows = 0
    with archive.open(info) as part:
        while chunk := part.read(CHUNK):
            data = tail + chunk
            end = _SHEET_DATA_END.search(data)
            stop = end.start() if end else len(data)
            for match in _ROW.finditer(data, 0, stop):
                at = offset + match.start()
                if at <= last:
                    continue  # seen already at the end of the previous chunk
                if last >= 0 and at - last > limits.max_line:
                    _row_too_long(info, rows, at - last, limits)
                last, rows = at, rows + 1
            if last >= 0 and offset + stop - last > limits.max_line:
                _row_too_long(info, rows, offset + stop - last, limits)
            if end:
                return  # what follows the rows (merged cells, formatting) is not read
            # Keep the end of the chunk: a tag may be cut in two.
            keep = min(len(data), 64)
            offset += len(data) - keep
            tail = data[-keep:]


def _row_too_long(info: zipfile.ZipInfo, row: int, size: int, limits: Limits) -> None:
    raise TooLarge(
        f"row {row} of {info.filename} is over {size} bytes of XML: longer than "
        f"BUCKETPIPE_SOURCE_MAX_LINE_BYTES ({limits.max_line}); save the sheet as CSV or "
        "raise the setting"
    )


def check_parquet(path: Path, limits: Limits) -> int:
    """Decode a Parquet file whole (checksums verified where stored); its rows. Refuses
    (`UnreadableFile`, `TooLarge`) a damaged file or one past the decompressed cap."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(
            path, page_checksum_verification=True, buffer_size=1 << 20, pre_buffer=False
        )
        meta = parquet.metadata
        declared = sum(
            meta.row_group(g).column(c).total_uncompressed_size
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        )
        if declared > limits.max_decompressed:
            raise limits.unpacked_too_large(declared)
        rows = decoded = 0
        for batch in parquet.iter_batches(batch_size=16_384, use_threads=False):
            rows += batch.num_rows
            decoded += batch.nbytes
            if decoded > limits.max_decompressed:
                raise limits.unpacked_too_large()
        return rows
    except (pa.ArrowException, OSError, ValueError, IndexError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise UnreadableFile(f"not valid Parquet: {first[:200]}") from None
