"""Inspecting a landed source file: its format, encoding and CSV dialect, or why it is unreadable.

Ingest inspects every file before it is copied into the lake, so a file that cannot be parsed
is reported in the run's manifest with the reason and the rest of the run proceeds. The whole
file is streamed once (encoding detection); parsing proper happens in clean, in DuckDB.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb

from bucketpipe.formats.bounds import Limits
from bucketpipe.formats.containers import check_parquet, check_workbook
from bucketpipe.formats.nesting import MAX_JSON_DEPTH, json_too_deep
from bucketpipe.formats.readers import (
    CHUNK,
    FORMATS,
    Format,
    ReadOptions,
    UnreadableFile,
    detect_encoding,
    excel_sheets,
    format_from_name,
    head_text,
    needs_transcoding,
    open_decompressed,
    sniff_delimiter,
    sniff_format,
    transcode,
)
from bucketpipe.lake.duck import quote_literal

# Options a mapping rule may set for the files it matches.
READ_OPTION_NAMES = ("format", "encoding", "delimiter", "quote", "header", "sheets", "records")
STRICT_JSON_BYTES = 64 * 1024 * 1024


def inspect_file(
    path: Path,
    key: str,
    *,
    overrides: Mapping[str, Any],
    con: duckdb.DuckDBPyConnection,
    scratch: Path,
    limits: Limits | None = None,
) -> ReadOptions:
    """How to read the file at `path` (named `key` in the source); `UnreadableFile` if it can't.

    Every byte is read within `limits`: a text file is streamed whole (its encoding), a
    workbook's parts and rows are measured, a Parquet file is decoded whole.
    """
    limits = limits or Limits()
    named, compression = format_from_name(key)
    wanted = overrides.get("format")
    if wanted is not None and wanted not in FORMATS:
        raise UnreadableFile(f"mapping asks for unknown format {wanted!r}; use one of {FORMATS}")
    with open_decompressed(path, compression, limits) as fh:
        head = fh.read(4096)
    if not head.strip():
        raise UnreadableFile("empty file")
    sniffed = sniff_format(head)
    fmt: Format = wanted or named or sniffed or "csv"
    if fmt in ("xlsx", "parquet") and sniffed != fmt:
        raise UnreadableFile(f"the content is not {fmt} (the name or mapping says it is)")
    if fmt == "json" and sniffed == "ndjson" and wanted is None:
        fmt = "ndjson"
    options = ReadOptions(
        format=fmt,
        compression=compression,
        header=bool(overrides.get("header", True)),
        quote=str(overrides.get("quote") or '"'),
        records=overrides.get("records"),
    )
    if fmt == "xlsx":
        check_workbook(path, limits)
        return _inspect_excel(path, options, overrides.get("sheets"))
    if fmt == "parquet":
        check_parquet(path, limits)
        return options
    encoding = _encoding(path, compression, overrides.get("encoding"), limits)
    options = replace(options, encoding=encoding)
    if fmt == "csv":
        sample = head_text(path, options.encoding or "utf-8", compression)
        if not sample.strip():
            raise UnreadableFile("empty file")
        delimiter = overrides.get("delimiter") or (
            "\t" if key.lower().removesuffix(".gz").endswith((".tsv", ".tab")) else None
        )
        return replace(options, delimiter=delimiter or sniff_delimiter(sample))
    return _inspect_json(path, options, con, scratch, limits)


def _encoding(path: Path, compression: str, wanted: str | None, limits: Limits) -> str:
    if wanted:
        try:
            codecs.lookup(wanted)
        except LookupError:
            raise UnreadableFile(f"mapping names unknown encoding {wanted!r}") from None
        _check_decodes(path, compression, wanted, limits)
        return str(wanted).lower()
    encoding, nul = detect_encoding(path, compression, limits)
    if nul and encoding != "utf-16":
        raise UnreadableFile("binary content (NUL bytes): not a text file")
    return encoding


def _check_decodes(path: Path, compression: str, encoding: str, limits: Limits) -> None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open_decompressed(path, compression, limits) as fh:
        while True:
            chunk = fh.read(CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise UnreadableFile(
                    f"does not decode as {encoding} (byte {offset + exc.start})"
                ) from None
            if not chunk:
                return
            offset += len(chunk)


def _inspect_excel(path: Path, options: ReadOptions, wanted: Any) -> ReadOptions:
    sheets = excel_sheets(path)
    if wanted:
        chosen = [wanted] if isinstance(wanted, str) else [str(s) for s in wanted]
        missing = [s for s in chosen if s not in sheets]
        if missing:
            raise UnreadableFile(f"workbook has no sheet {missing[0]!r} (it has {sheets})")
        sheets = chosen
    if not sheets:
        raise UnreadableFile("workbook has no sheets")
    return replace(options, sheets=tuple(sheets))


def _inspect_json(
    path: Path,
    options: ReadOptions,
    con: duckdb.DuckDBPyConnection,
    scratch: Path,
    limits: Limits,
) -> ReadOptions:
    if _too_deep(path, options, scratch, limits):
        raise UnreadableFile(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if options.format == "ndjson":
        first = head_text(path, options.encoding or "utf-8", options.compression, 1 << 20)
        if "\n" not in first:
            return options  # a first line longer than the sample: clean measures it
        line = next((ln for ln in first.splitlines() if ln.strip()), "")
        try:
            json.loads(line)
        except RecursionError:
            raise UnreadableFile("the first line nests JSON too deeply to read") from None
        except ValueError:
            raise UnreadableFile("the first line is not a JSON value (expected NDJSON)") from None
        return options
    source = path
    if needs_transcoding(options):
        source = transcode(path, options, scratch / "inspect.json", limits)
    try:
        _check(
            con,
            f"SELECT count(*) FROM read_json_objects({quote_literal(str(source))}, "
            "format = 'auto', maximum_object_size = 268435456)",
            "JSON",
        )
        # The streaming reader forgives a truncated array of scalars; a whole-text check
        # catches it where the file is small enough to hold once.
        if source.stat().st_size <= STRICT_JSON_BYTES:
            row = con.execute(
                f"SELECT json_valid(content) FROM read_text({quote_literal(str(source))})"
            ).fetchone()
            if not row or not row[0]:
                raise UnreadableFile("not valid JSON: the document is incomplete or malformed")
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    return options


def _too_deep(path: Path, options: ReadOptions, scratch: Path, limits: Limits) -> bool:
    """Nesting beyond `MAX_JSON_DEPTH` (scanned as bytes: only UTF-16 is transcoded first,
    every other encoding keeps brackets, quotes and backslashes as their ASCII bytes)."""
    if not str(options.encoding or "").startswith("utf-16"):
        return json_too_deep(path, options.compression, limits=limits)
    utf8 = transcode(path, options, scratch / "depth.json", limits)
    try:
        return json_too_deep(utf8, limits=limits)
    finally:
        utf8.unlink(missing_ok=True)


def _check(con: duckdb.DuckDBPyConnection, sql: str, what: str) -> None:
    try:
        con.execute(sql).fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise UnreadableFile(f"not valid {what}: {first[:200]}") from None
