"""Source file formats and text encodings: detected from a file's name and bytes, streamed.

Encoding detection order (text formats only), decided over the whole file, not a sample:
1. a byte-order mark: UTF-8 BOM -> `utf-8-sig`, UTF-16 BOM -> `utf-16`;
2. the file decodes as UTF-8 from start to end -> `utf-8` (ASCII is UTF-8);
3. otherwise it is a single-byte Western encoding. Latin-1 (ISO-8859-1) and CP1252 agree on
   every byte except 0x80-0x9F, which are invisible C1 control codes in Latin-1 but printable
   characters in CP1252 (euro sign, curly quotes, dashes, ...). A file with any byte in
   0x80-0x9F is therefore `cp1252`, unless it holds one of the five bytes CP1252 leaves
   undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D): then `latin-1`, which decodes anything.
   Without such bytes both decode identically and `latin-1` is reported.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from bucketpipe.formats.bounds import (
    CHUNK,
    CappedWriter,
    Limits,
    UnreadableFile,
    copy_capped,
    open_capped,
)

__all__ = ["CHUNK", "UnreadableFile"]  # re-exported: where readers' callers look for them

Format = Literal["csv", "json", "ndjson", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "json", "ndjson", "xlsx", "parquet")
SAMPLE = 256 * 1024
SNIFF_LINES = 200
DELIMITERS = (",", ";", "\t", "|")

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".psv": "csv",
    ".dat": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_UNSUPPORTED = {
    ".xls": "old binary Excel (.xls) is not supported; save the workbook as .xlsx",
    ".zip": "zip archives are not supported; upload the files inside",
    ".pdf": "PDF is not a data format this pipeline reads",
}
_C1 = re.compile(rb"[\x80-\x9f]")
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file: detected at ingest, overridable per mapping rule."""

    format: Format
    compression: Literal["none", "gzip"] = "none"
    encoding: str | None = None
    delimiter: str | None = None
    quote: str = '"'
    header: bool = True
    sheets: tuple[str, ...] = ()
    records: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "compression": self.compression,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "quote": self.quote,
            "header": self.header,
            "sheets": list(self.sheets),
            "records": self.records,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ReadOptions:
        fmt = data.get("format")
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        assert isinstance(fmt, str)
        sheets = data.get("sheets") or ()
        return cls(
            format=fmt,
            compression="gzip" if data.get("compression") == "gzip" else "none",
            encoding=_opt_str(data.get("encoding")),
            delimiter=_opt_str(data.get("delimiter")),
            quote=str(data.get("quote") or '"'),
            header=bool(data.get("header", True)),
            sheets=tuple(str(s) for s in sheets) if isinstance(sheets, list | tuple) else (),
            records=_opt_str(data.get("records")),
        )


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def format_from_name(key: str) -> tuple[Format | None, Literal["none", "gzip"]]:
    """The format a key's extension names (`.csv.gz` is gzip-compressed CSV), or None."""
    name = key.rsplit("/", 1)[-1].lower()
    compression: Literal["none", "gzip"] = "none"
    if name.endswith(".gz"):
        compression, name = "gzip", name[:-3]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if suffix in _UNSUPPORTED:
        raise UnreadableFile(_UNSUPPORTED[suffix])
    return _EXTENSIONS.get(suffix), compression


def sniff_format(head: bytes) -> Format | None:
    """The format the first bytes reveal: zip (xlsx), Parquet magic, JSON, else None."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        first = text.split(b"\n", 1)
        if len(first) == 2 and first[0].rstrip().endswith(b"}") and first[1].lstrip()[:1] == b"{":
            return "ndjson"
        return "json"
    return None


class EncodingDetector:
    """Feed a file chunk by chunk; `result()` applies the detection order of this module."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._utf8 = True
        self._c1 = False
        self._undefined = False
        self._first = True
        self.bom: str | None = None
        self.nul = False
        self.size = 0

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self._first:
            self._first = False
            if chunk.startswith(codecs.BOM_UTF8):
                self.bom = "utf-8-sig"
            elif chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                self.bom = "utf-16"
        self.size += len(chunk)
        if self.bom == "utf-16":
            return
        if not self.nul and b"\x00" in chunk:
            self.nul = True
        if self._utf8:
            try:
                self._decoder.decode(chunk, final)
            except UnicodeDecodeError:
                self._utf8 = False
        if chunk.isascii():
            return  # both patterns below are bytes >= 0x80; isascii is a fast C scan
        if not self._c1 and _C1.search(chunk):
            self._c1 = True
        if not self._undefined and _CP1252_UNDEFINED.search(chunk):
            self._undefined = True

    def result(self) -> str:
        if self.bom:
            return self.bom
        if self._utf8:
            return "utf-8"
        if self._c1 and not self._undefined:
            return "cp1252"
        return "latin-1"


def open_decompressed(path: Path, compression: str, limits: Limits | None = None) -> IO[bytes]:
    """The file's bytes, gunzipped on the fly when compressed, within `limits`: a damaged
    gzip stream or one past the decompressed cap raises `UnreadableFile` with the reason."""
    return open_capped(path, compression, limits or Limits())


def detect_encoding(
    path: Path, compression: str = "none", limits: Limits | None = None
) -> tuple[str, bool]:
    """(encoding, holds NUL bytes) of a whole file, read in chunks."""
    detector = EncodingDetector()
    with open_decompressed(path, compression, limits) as fh:
        while chunk := fh.read(CHUNK):
            detector.feed(chunk)
        detector.feed(b"", final=True)
    return detector.result(), detector.nul


def head_text(path: Path, encoding: str, compression: str = "none", size: int = SAMPLE) -> str:
    """The first `size` bytes decoded, cut at the last complete line."""
    with open_decompressed(path, compression) as fh:
        data = fh.read(size)
        more = bool(fh.read(1))
    text = data.decode(encoding, errors="replace").lstrip("\ufeff")
    if more and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: `,` `;` tab or `|`, by consistency across lines.

    Python's sniffer is given the sample's first SNIFF_LINES lines: its patterns scan all of
    their input (the whole 256 KiB sample cost 22 ms a file), and a delimiter shows in far
    fewer lines."""
    head = sample.splitlines(keepends=True)[:SNIFF_LINES]
    try:
        return csv.Sniffer().sniff("".join(head), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        pass
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        return ","

    # The sniffer gives up on ragged files; fall back to the delimiter the header uses most,
    # preferring the one whose count repeats on most lines.
    def score(delim: str) -> tuple[int, int]:
        counts = [_count_outside_quotes(line, delim) for line in lines]
        header = counts[0]
        return (sum(1 for c in counts if c == header and c > 0), header)

    best = max(DELIMITERS, key=score)
    return best if score(best)[1] > 0 else ","


def _count_outside_quotes(line: str, delim: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delim and not quoted:
            count += 1
    return count


def transcode(path: Path, options: ReadOptions, dest: Path, limits: Limits | None = None) -> Path:
    """Write the file as plain UTF-8 (no BOM, not compressed), streaming in chunks, within
    `limits` (what it unpacks to, and the scratch space the copy may take)."""
    limits = limits or Limits()
    encoding = options.encoding or "utf-8"
    with open_decompressed(path, options.compression, limits) as src:
        if encoding == "utf-8":
            copy_capped(src, dest, limits)
            return dest
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        first = True
        with CappedWriter(dest, limits) as out:
            while True:
                chunk = src.read(CHUNK)
                text = decoder.decode(chunk, final=not chunk)
                if first and text.startswith("\ufeff"):
                    text = text[1:]
                first = first and not text
                out.write(text.encode("utf-8"))
                if not chunk:
                    break
    return dest


def needs_transcoding(options: ReadOptions) -> bool:
    """True unless DuckDB can read the stored bytes as they are (UTF-8, maybe gzipped)."""
    if options.format in ("xlsx", "parquet"):
        return False
    return options.encoding not in (None, "utf-8")


def excel_rows(path: Path, sheet: str) -> Iterator[list[str]]:
    """The rows of one worksheet as text (openpyxl read-only mode streams them)."""
    from openpyxl import load_workbook

    # A file object: openpyxl refuses paths whose name does not end in .xlsx.
    with path.open("rb") as fh:
        book = load_workbook(fh, read_only=True, data_only=True)
        try:
            for row in book[sheet].iter_rows(values_only=True):
                yield [cell_text(value) for value in row]
        finally:
            book.close()


def excel_sheets(path: Path) -> list[str]:
    """Sheet names of a workbook; `UnreadableFile` if it is not a readable xlsx."""
    from openpyxl import load_workbook

    with path.open("rb") as fh:
        try:
            book = load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:
            reason = exc.__class__.__name__
            raise UnreadableFile(f"not a readable xlsx workbook ({reason})") from None
        try:
            return list(book.sheetnames)
        finally:
            book.close()


def cell_text(value: object) -> str:
    """An Excel cell as text: dates ISO (midnight as a date), whole floats without `.0`,
    booleans lower-case."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        # Excel stores dates as midnight datetimes; a date column stays a date.
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def excel_to_csv(
    path: Path, sheet: str, dest: Path, limits: Limits | None = None
) -> tuple[Path, int]:
    """One worksheet written as UTF-8 CSV (leading empty rows skipped), within the scratch
    bound of `limits`; (path, data rows)."""
    rows = 0
    raw = CappedWriter(dest, limits or Limits())
    with io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        header_seen = False
        width = 0
        for row in excel_rows(path, sheet):
            while row and row[-1] == "":
                row.pop()
            if not header_seen:
                if not row:
                    continue
                header_seen, width = True, len(row)
            elif not row:
                continue
            else:
                rows += 1
            writer.writerow(row + [""] * (width - len(row)) if len(row) < width else row)
    return dest, rows
