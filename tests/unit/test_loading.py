"""Loading a dataset's files side by side gives what loading them one by one gives.

The files are real CSV, NDJSON and Parquet files in a local lake, read by DuckDB into a work
database on disk (as clean does); nothing of the loader is stubbed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bucketpipe.formats.loading import FileRef, Loader
from bucketpipe.formats.readers import ReadOptions
from bucketpipe.formats.refs import INPUT, REJECTS
from bucketpipe.lake.local import LocalStore

LANDED = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
NULLS = ("", "n/a", "null")


def _csv(rows: int, columns: tuple[str, ...], tag: str) -> str:
    lines = [",".join(columns)]
    lines += [",".join(f"{tag}-{c}-{i}" for c in columns) for i in range(1, rows + 1)]
    return "\n".join(lines) + "\n"


def _ref(name: str, fmt: str) -> FileRef:
    """The landed file `landed/<name>` (its own copy, as ingest leaves it)."""
    return FileRef(
        dataset="things",
        uri=f"s3://source/{name}",
        key=f"landed/{name}",
        copy=f"landed/{name}",
        read=ReadOptions(format=fmt, delimiter="," if fmt == "csv" else None),  # type: ignore[arg-type]
        run="run-1",
        landed_at=LANDED,
    )


def _lake(tmp_path: Path) -> tuple[LocalStore, list[FileRef]]:
    """Files whose columns differ and come in a known order, one of them unreadable, one with
    malformed lines."""
    lake = tmp_path / "lake"
    files: dict[str, tuple[str, str]] = {
        "a.csv": (_csv(3000, ("id", "x"), "a"), "csv"),
        "b.csv": (_csv(2000, ("id", "y", "x"), "b"), "csv"),
        "c.ndjson": (
            "".join(f'{{"id": "c-id-{i}", "z": "c-z-{i}"}}\n' for i in range(1, 1501))
            + "not json\n",
            "ndjson",
        ),
        "broken.csv": ("", "csv"),  # no header line: the file fails, the others load
        "d.csv": (
            _csv(2500, ("id", "w"), "d")
            + "d-id-x,too,many\n"
            + "".join(f"e-id-{i},e-w-{i}\n" for i in range(1, 11)),
            "csv",
        ),
    }
    refs = []
    for name, (text, fmt) in files.items():
        key = f"landed/{name}"
        (lake / "landed").mkdir(parents=True, exist_ok=True)
        (lake / key).write_text(text, encoding="utf-8")
        refs.append(_ref(name, fmt))
    (lake / "landed" / "e.parquet").parent.mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'p-id-' || i AS id, 'p-v-' || i AS v FROM range(1, 1201) r(i)) "
        f"TO '{lake / 'landed' / 'e.parquet'}' (FORMAT parquet)"
    )
    con.close()
    refs.append(_ref("e.parquet", "parquet"))
    return LocalStore(lake), refs


def _load(tmp_path: Path, workers: int, name: str, *, in_memory: bool = False) -> dict[str, Any]:
    store, refs = _lake(tmp_path)
    con = duckdb.connect(":memory:" if in_memory else str(tmp_path / f"{name}.db"))
    con.execute("SET threads = 2")
    try:
        scratch = tmp_path / f"scratch-{name}"
        scratch.mkdir()
        loader = Loader(con, store, scratch, null_tokens=NULLS)
        loader.load_all(refs, workers=workers)
        rows = con.execute(
            f"SELECT * EXCLUDE (_fetched_at, _source_modified) FROM {INPUT} "
            "ORDER BY _source_file, _source_row"
        ).fetchall()
        rejects = con.execute(
            f"SELECT _source_file, _source_line, _reject_reason FROM {REJECTS} ORDER BY ALL"
        ).fetchall()
        columns = [r[0] for r in con.execute(f"DESCRIBE {INPUT}").fetchall()]
        kind = con.execute(
            "SELECT 'view' FROM duckdb_views() WHERE view_name = $1 "
            "UNION ALL SELECT 'table' FROM duckdb_tables() WHERE table_name = $1",
            [INPUT],
        ).fetchall()
        staged = sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*") if p.is_file())
        loader.release()
        leftovers = sorted(str(p) for p in scratch.rglob("*") if not p.is_dir())
        dropped = con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = $1", [INPUT]
        ).fetchone()
        setting = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    finally:
        con.close()
    report = loader.report
    return {
        "rows": rows,
        "rejects": rejects,
        "columns": columns,
        "report": (report.rows, report.rejected, report.columns, report.file_columns),
        "failed": report.failed,
        "leftovers": leftovers,
        "order_setting": setting,
        "kind": kind,
        "staged": staged,
        "dropped": dropped == (0,),
    }


@pytest.mark.parametrize("workers", [2, 3])
def test_side_by_side_equals_one_by_one(tmp_path: Path, workers: int) -> None:
    one = _load(tmp_path / "one", 1, "one")
    many = _load(tmp_path / "many", workers, "many")
    assert many == one


def test_rows_are_numbered_as_they_stand_in_their_file(tmp_path: Path) -> None:
    got = _load(tmp_path, 2, "w")
    by_file: dict[str, list[tuple[int, str]]] = {}
    names = [c for c in got["columns"] if c not in ("_fetched_at", "_source_modified")]
    for row in got["rows"]:
        record = dict(zip(names, row, strict=True))
        by_file.setdefault(record["_source_file"], []).append((record["_source_row"], record["id"]))
    assert sorted(by_file) == [
        "s3://source/a.csv",
        "s3://source/b.csv",
        "s3://source/c.ndjson",
        "s3://source/d.csv",
        "s3://source/e.parquet",
    ]
    for uri, numbered in by_file.items():
        tag = {"e": "p"}.get(uri.rsplit("/", 1)[1][0], uri.rsplit("/", 1)[1][0])
        # Row n of a file holds that file's n-th record (d.csv's malformed line is not a row).
        expected = [(n, f"{tag}-id-{n}") for n in range(1, len(numbered) + 1)]
        if tag == "d":
            expected = [(n, f"d-id-{n}") for n in range(1, 2501)]
            expected += [(2500 + n, f"e-id-{n}") for n in range(1, 11)]
        assert numbered == expected, uri
    assert got["report"][0] == 3000 + 2000 + 1500 + 2510 + 1200


def test_rows_of_large_files_loaded_side_by_side_keep_their_numbers(tmp_path: Path) -> None:
    """Files of several row groups, read on parallel threads two at a time: each row's number
    is still its place in its file (`_source_row` is lineage a user follows back to the file,
    and breaks ties of the merge). Numbering staged rows by their place in the Parquet file
    written from them fails here: half the rows of a file split across threads got another
    row's number, though the copy ran with `preserve_insertion_order` on."""
    lake = tmp_path / "lake"
    (lake / "landed").mkdir(parents=True)
    refs = []
    for name in ("big-1.csv", "big-2.csv"):
        # About 14 MB each, quote-like: wide enough for the reader to split a file.
        lines = "".join(
            f"{name}-{i},2026-01-05 09:30:00,{i % 997}.25,{i % 991}.5,250.75,150.5,56.25,{i}\n"
            for i in range(1, 250_001)
        )
        header = "id,ts,price,open,high,low,prev_close,volume\n"
        (lake / "landed" / name).write_text(header + lines, encoding="utf-8")
        refs.append(_ref(name, "csv"))
    con = duckdb.connect(str(tmp_path / "work.db"))
    # As a job's connection has it (`lake.duck.settings_sql`): rows are read in any order.
    con.execute("SET threads = 2; SET preserve_insertion_order = false")
    loader = Loader(con, LocalStore(lake), tmp_path / "scratch", null_tokens=NULLS)
    loader.load_all(refs, workers=2)
    wrong = con.execute(
        f"SELECT _source_file, count(*), count(*) FILTER (WHERE id <> "
        f"regexp_extract(_source_file, '[^/]+$') || '-' || _source_row) FROM {INPUT} "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    con.close()
    assert wrong == [(f"s3://source/big-{n}.csv", 250_000, 0) for n in (1, 2)]


def test_columns_come_in_the_order_files_bring_them(tmp_path: Path) -> None:
    got = _load(tmp_path, 2, "w")
    content = [c for c in got["columns"] if not c.startswith("_")]
    assert content == ["id", "x", "y", "z", "w", "v"]
    assert got["report"][2] == content


def test_a_bad_file_fails_alone_and_rejects_keep_their_reasons(tmp_path: Path) -> None:
    got = _load(tmp_path, 2, "w")
    assert got["failed"] == {"s3://source/broken.csv": "no header line"}
    assert got["rejects"] == [
        ("s3://source/c.ndjson", 1501, "malformed line: not valid JSON"),
        ("s3://source/d.csv", 2502, "malformed line: too many columns"),
    ]
    assert got["report"][1] == 2
    # Work folders are removed and the insertion order is back to what it was (DuckDB's default
    # here).
    assert got["leftovers"] == []
    assert got["order_setting"] == (True,)


def test_staged_files_read_as_the_table_a_database_in_memory_holds(tmp_path: Path) -> None:
    # A work database in a file stages each file's rows as Parquet (one per file read, the
    # failed file none) read through a view; one in memory appends them to a table. Readers
    # see the same rows, columns, rejects and report, and `release` leaves nothing behind.
    staged = _load(tmp_path / "file", 2, "w")
    table = _load(tmp_path / "memory", 2, "w", in_memory=True)
    assert staged["kind"] == [("view",)]
    assert table["kind"] == [("table",)]
    assert staged["staged"] == [f"staged/_g_in/{n}.parquet" for n in range(5)]
    assert table["staged"] == []
    for got in (staged, table):
        assert got["dropped"] and got["leftovers"] == []
    same = ("rows", "rejects", "columns", "report", "failed")
    assert {k: staged[k] for k in same} == {k: table[k] for k in same}


def test_a_file_failing_in_its_insert_fails_alone(tmp_path: Path) -> None:
    """A Parquet file whose footer reads but whose pages are damaged passes the main thread's
    look at it and fails in its insert, on a loader thread: it is reported with the reason,
    adds no row, and the files around it load."""
    store, refs = _lake(tmp_path)
    bad = tmp_path / "lake" / "landed" / "bad.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'x-id-' || i AS id, i AS n FROM range(100000) r(i)) "
        f"TO '{bad}' (FORMAT parquet, COMPRESSION snappy)"
    )
    con.close()
    data = bytearray(bad.read_bytes())
    for i in range(len(data) // 4, len(data) // 2):  # the pages, not the footer
        data[i] = (data[i] * 7 + 13) % 256
    bad.write_bytes(bytes(data))
    damaged = _ref("bad.parquet", "parquet")
    work = duckdb.connect(str(tmp_path / "work.db"))
    try:
        loader = Loader(work, store, tmp_path / "scratch", null_tokens=NULLS)
        loader.load_all([refs[0], damaged, refs[1]], workers=2)
        files = work.execute(
            f"SELECT _source_file, count(*) FROM {INPUT} GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    finally:
        work.close()
    assert list(loader.report.failed) == ["s3://source/bad.parquet"]
    assert "Snappy decompression failure" in loader.report.failed["s3://source/bad.parquet"]
    assert files == [("s3://source/a.csv", 3000), ("s3://source/b.csv", 2000)]
    assert loader.report.rows == 5000
