"""Source formats and encodings: detection order, CSV dialects, Excel cells, transcoding."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import duckdb
import pytest

from bucketpipe.formats.detect import inspect_file
from bucketpipe.formats.readers import (
    EncodingDetector,
    ReadOptions,
    UnreadableFile,
    cell_text,
    detect_encoding,
    excel_to_csv,
    format_from_name,
    sniff_delimiter,
    sniff_format,
    transcode,
)
from bucketpipe.formats.shapes import HEAD_ROWS, data_width, head_rows

TEXT = "nimi;kaupunki;summa\nÄijä;Hämeenlinna;12,5\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain ascii,1\n", "utf-8"),
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        ("a\tb\n".encode("utf-16"), "utf-16"),
        # 0xE4 (a-umlaut) is invalid UTF-8 and the same letter in Latin-1 and CP1252.
        (TEXT.encode("latin-1"), "latin-1"),
        # 0x80 is the euro sign in CP1252 and an invisible control code in Latin-1.
        ("price;€ 5\n".encode("cp1252"), "cp1252"),
        ("\u201cquoted\u201d \u2013 dash\n".encode("cp1252"), "cp1252"),
        # 0x81 is undefined in CP1252: only Latin-1 decodes the file.
        (b"x\x81\xe4\n", "latin-1"),
    ],
)
def test_encoding_detection_order(data: bytes, expected: str) -> None:
    detector = EncodingDetector()
    detector.feed(data)
    detector.feed(b"", final=True)
    assert detector.result() == expected


def test_encoding_is_decided_over_the_whole_file_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    # 20 MB of ASCII, then one CP1252 euro sign: a head sample would say UTF-8.
    path.write_bytes(b"a,b\n" + b"1,2\n" * 5_000_000 + "3,€\n".encode("cp1252"))
    assert detect_encoding(path) == ("cp1252", False)


def test_a_multibyte_character_split_across_chunks_is_still_utf8() -> None:
    data = "ä".encode()
    detector = EncodingDetector()
    detector.feed(b"x" + data[:1])
    detector.feed(data[1:] + b"\n")
    detector.feed(b"", final=True)
    assert detector.result() == "utf-8"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a/b/sales.csv", ("csv", "none")),
        ("x.TSV", ("csv", "none")),
        ("x.csv.gz", ("csv", "gzip")),
        ("events.jsonl", ("ndjson", "none")),
        ("events.ndjson.gz", ("ndjson", "gzip")),
        ("data.json", ("json", "none")),
        ("book.xlsx", ("xlsx", "none")),
        ("part-0.parquet", ("parquet", "none")),
        ("README", (None, "none")),
    ],
)
def test_format_from_name(key: str, expected: tuple[str | None, str]) -> None:
    assert format_from_name(key) == expected


def test_old_excel_is_refused_with_a_reason() -> None:
    with pytest.raises(UnreadableFile, match=r"save the workbook as \.xlsx"):
        format_from_name("legacy.xls")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"PK\x03\x04rest", "xlsx"),
        (b"PAR1....", "parquet"),
        (b'  [{"a": 1}]', "json"),
        (b'{"a": 1}\n{"a": 2}\n', "ndjson"),
        (b'{"a": {\n "b": 1}}', "json"),
        (b"a,b\n1,2\n", None),
    ],
)
def test_sniff_format(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ","),
        ("a;b;c\n1,5;2;3\n4;5,5;6\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        # Ragged rows defeat the standard sniffer; the header's delimiter still wins.
        ("Name;Age;City\nAlice;30;Helsinki\nCarl;40\nDan;50;Oulu;extra\n", ";"),
        ('"last, first";"age"\n"Doe, Jane";"41"\n', ";"),
    ],
)
def test_sniff_delimiter(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (30.0, "30"),
        (12.5, "12.5"),
        (dt.datetime(2024, 1, 5, 10, 30), "2024-01-05 10:30:00"),
        (dt.date(2024, 1, 5), "2024-01-05"),
        ("text", "text"),
    ],
)
def test_excel_cells_as_text(value: object, expected: str) -> None:
    assert cell_text(value) == expected


def test_excel_sheet_to_csv_skips_leading_blank_rows(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Data"
    sheet.append([])
    sheet.append(["Name", "When", "Amount"])
    sheet.append(["Ann", dt.date(2024, 1, 5), 10.0])
    sheet.append(["Bob", None, 2.5])
    book.save(tmp_path / "b.xlsx")
    out, rows = excel_to_csv(tmp_path / "b.xlsx", "Data", tmp_path / "b.csv")
    assert rows == 2
    assert out.read_text().splitlines() == [
        '"Name","When","Amount"',
        '"Ann","2024-01-05","10"',
        '"Bob","","2.5"',
    ]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8-sig", "utf-16"])
def test_transcode_streams_to_plain_utf8(tmp_path: Path, encoding: str) -> None:
    text = "nimi;summa\nÄijä;€5\n" if encoding != "latin-1" else "nimi;summa\nÄijä;5\n"
    source = tmp_path / "in.csv"
    source.write_bytes(text.encode(encoding))
    out = transcode(source, ReadOptions(format="csv", encoding=encoding), tmp_path / "out.csv")
    assert out.read_bytes() == text.encode("utf-8")


def _inspect(tmp_path: Path, key: str, data: bytes, **overrides: object) -> ReadOptions:
    path = tmp_path / "file"
    path.write_bytes(data)
    con = duckdb.connect()
    try:
        return inspect_file(path, key, overrides=overrides, con=con, scratch=tmp_path)
    finally:
        con.close()


def test_inspect_csv_records_encoding_and_delimiter(tmp_path: Path) -> None:
    options = _inspect(tmp_path, "fi/sales.csv", TEXT.encode("cp1252"))
    assert (options.format, options.encoding, options.delimiter) == ("csv", "latin-1", ";")


def test_inspect_gzipped_tsv(tmp_path: Path) -> None:
    options = _inspect(tmp_path, "x.tsv.gz", gzip.compress(b"a\tb\n1\t2\n"))
    assert (options.format, options.compression, options.delimiter) == ("csv", "gzip", "\t")


def test_inspect_json_holding_ndjson(tmp_path: Path) -> None:
    options = _inspect(tmp_path, "events.json", b'{"a": 1}\n{"a": 2}\n')
    assert options.format == "ndjson"


def test_mapping_options_override_detection(tmp_path: Path) -> None:
    options = _inspect(tmp_path, "x.txt", b"a|b\n1|2\n", delimiter=";", encoding="cp1252")
    assert (options.delimiter, options.encoding) == (";", "cp1252")


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("empty.csv", b"  \n", "empty file"),
        ("bin.csv", b"a,b\n\x00\x01\x02", "binary content"),
        ("broken.json", b'[{"a": 1}, {"a": ', "not valid JSON"),
        ("short.json", b"[1, ", "not valid JSON"),
        ("fake.parquet", b"not parquet at all", "the content is not parquet"),
        ("fake.xlsx", b"PK\x03\x04garbage", "not a readable xlsx"),
        ("bad.ndjson", b"{oops\n", "not a JSON value"),
        ("bad.csv.gz", b"not gzip", "not valid gzip"),
    ],
)
def test_unreadable_files_have_a_reason(tmp_path: Path, key: str, data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        _inspect(tmp_path, key, data)


def test_a_wrong_encoding_in_the_mapping_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="does not decode as utf-8"):
        _inspect(tmp_path, "x.csv", TEXT.encode("latin-1"), encoding="utf-8")


def test_a_missing_sheet_is_reported(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.save(tmp_path / "b.xlsx")
    with pytest.raises(UnreadableFile, match="no sheet 'Totals'"):
        _inspect(tmp_path, "b.xlsx", (tmp_path / "b.xlsx").read_bytes(), sheets=["Totals"])


def test_head_rows_parse_quoted_lines_and_stop_at_their_cap() -> None:
    text = 'id;"note\nwith a newline";x\n' + "".join(f"{i};n;\n" for i in range(5000))
    rows = head_rows(text, ";", '"')
    assert len(rows) == HEAD_ROWS
    assert rows[0] == ["id", "note\nwith a newline", "x"]
    assert rows[1] == ["0", "n", ""]
    assert data_width(rows) == 3
