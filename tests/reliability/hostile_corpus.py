"""A corpus of hostile source files, one class at a time, each beside a good file.

Every class is a small source folder: `good/ok.csv` (must be committed) and the hostile file
(must be reported with its reason, or for a huge line, lose only that line). Sizes come from
the mode: quick keeps each file and bound small, long uses the default bounds and files past
them (a gzip bomb of 9 GiB, a 200 MB NDJSON line).
"""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

MIB = 1024**2


@dataclass(frozen=True)
class Mode:
    """Sizes of one run of the corpus, and the settings that bound it."""

    name: str
    bomb: int  # bytes a bomb unpacks to
    line: int  # bytes of the huge line
    settings: dict[str, str]


QUICK = Mode(
    "quick",
    bomb=256 * MIB,
    line=24 * MIB,
    settings={
        "BUCKETPIPE_SOURCE_MAX_DECOMPRESSED_BYTES": "64MiB",
        "BUCKETPIPE_SOURCE_MAX_LINE_BYTES": "4MiB",
    },
)
LONG = Mode("long", bomb=9 * 1024 * MIB, line=200 * 1000 * 1000, settings={})


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _zeros(out: Sink, size: int, fill: bytes) -> None:
    """`size` bytes of `fill` repeated, written a MiB at a time."""
    block = fill * (MIB // len(fill))
    for _ in range(size // len(block)):
        out.write(block)


def gzip_bomb(folder: Path, mode: Mode) -> str:
    path = folder / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"a,b\n")
        _zeros(out, mode.bomb, b"1,2\n")
    return path.name


def zip_bomb(folder: Path, mode: Mode) -> str:
    path = folder / "bomb.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("data.csv", "w", force_zip64=True) as out,
    ):
        out.write(b"a,b\n")
        _zeros(out, mode.bomb, b"1,2\n")
    return path.name


def xlsx_bomb(folder: Path, mode: Mode) -> str:
    path = folder / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook><sheets/></workbook>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(b"<worksheet><sheetData><row>")
            _zeros(out, mode.bomb, b"<c><v>1</v></c>")
            out.write(b"</row></sheetData></worksheet>")
    return path.name


def parquet_bomb(folder: Path, mode: Mode) -> str:
    path = folder / "bomb.parquet"
    rows = 1 << 16
    value = "x" * 1024
    column = pa.array([value] * rows)
    with pq.ParquetWriter(path, pa.schema([("v", pa.string())]), compression="zstd",
                          use_dictionary=False) as writer:  # fmt: skip
        for _ in range(max(1, mode.bomb // (rows * len(value)))):
            writer.write_table(pa.table({"v": column}))
    return path.name


def truncated_gzip(folder: Path, mode: Mode) -> str:
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 200_000)
    path = folder / "truncated.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    return path.name


def escaping_symlink(folder: Path, mode: Mode) -> str:
    outside = folder.parents[1] / "outside.csv"
    outside.write_text("secret,value\npassword,hunter2\n")
    (folder / "link.csv").symlink_to(outside)
    return "link.csv"


def corrupt_parquet(folder: Path, mode: Mode) -> str:
    path = folder / "corrupt.parquet"
    table = pa.table({"id": list(range(100_000)), "v": [f"value {i}" for i in range(100_000)]})
    pq.write_table(table, path, write_page_checksum=True, compression="none")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = os.urandom(64)
    path.write_bytes(bytes(data))
    return path.name


def huge_line(folder: Path, mode: Mode) -> str:
    path = folder / "events.ndjson"
    with path.open("wb") as out:
        out.write(b'{"id": 1, "v": "first"}\n{"id": 2, "v": "')
        _zeros(out, mode.line, b"y")
        out.write(b'"}\n{"id": 3, "v": "last"}\n')
    return path.name


def broken_encoding(folder: Path, mode: Mode) -> str:
    path = folder / "declared.csv"
    # UTF-16 without a BOM, cut in the middle of a code unit, with lone surrogates.
    text = "id;name\n1;Åsa\n".encode("utf-16-le") + b"\x00\xd8\x41\x00\x00\xdc" + b"\x41"
    path.write_bytes(text)
    return path.name


CLASSES: dict[str, Callable[[Path, Mode], str]] = {
    "gzip bomb": gzip_bomb,
    "zip bomb": zip_bomb,
    "xlsx bomb": xlsx_bomb,
    "parquet bomb": parquet_bomb,
    "truncated .csv.gz": truncated_gzip,
    "symlink out of the source": escaping_symlink,
    "corrupt Parquet pages": corrupt_parquet,
    "huge NDJSON line": huge_line,
    "broken encoding": broken_encoding,
}
# Classes whose file is landed and loses only its bad line(s); the others are refused.
KEPT = {"huge NDJSON line"}


def build(root: Path, what: str, mode: Mode) -> tuple[Path, str]:
    """The source folder of one class (a good file beside the hostile one); the hostile key."""
    source = root / "source"
    (source / "good").mkdir(parents=True)
    (source / "good" / "ok.csv").write_text("symbol,price\nAAA,1.5\nBBB,2.5\n")
    folder = source / "hostile"
    folder.mkdir()
    return source, f"hostile/{CLASSES[what](folder, mode)}"
