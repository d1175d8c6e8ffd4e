"""The check that withholds a result showing the lake's place or a credential reads what a
reader sees: every text value, nested ones included, and the column names; never the bytes
under a null, which hold whatever memory the engine left there."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bucketpipe.serve.sandbox.shown import shows_any, text_leaves
from bucketpipe.serve.sandbox.worker import ipc_bytes

NEEDLE = "/srv/lake-7f3a/bucketpipe"


def result(sql: str) -> pa.Table:
    return duckdb.connect().execute(sql).to_arrow_table()


def shows(table: pa.Table) -> bool:
    return shows_any(table.schema, table.to_batches(), [NEEDLE])


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT 'x' || '{NEEDLE}' || 'y' AS v",
        f"SELECT '{NEEDLE}'::BLOB AS v",
        f"SELECT ['a', 'b{NEEDLE}'] AS v",
        f"SELECT [['a'], [NULL, '{NEEDLE}']] AS v",
        f"SELECT {{'k': 1, 's': '{NEEDLE}'}} AS v",
        f"SELECT MAP {{'{NEEDLE}': 1}} AS v",
        f"SELECT MAP {{1: '{NEEDLE}'}} AS v",
        f"SELECT ['{NEEDLE}']::VARCHAR[1] AS v",
        f"SELECT union_value(s := '{NEEDLE}') AS v",
        f"SELECT '{NEEDLE}'::ENUM ('{NEEDLE}', 'other') AS v",
        f'SELECT 1 AS "{NEEDLE}"',
        f"SELECT i, CASE WHEN i = 999 THEN '{NEEDLE}' END AS v FROM range(1000) t(i)",
    ],
)
def test_a_needle_anywhere_a_reader_sees_it_is_found(sql: str) -> None:
    assert shows(result(sql)), sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'nothing to see' AS v",
        f"SELECT length('{NEEDLE}') AS n, md5('{NEEDLE}') AS h",
        "SELECT NULL::VARCHAR AS v, [NULL] AS l, {'s': NULL} AS s FROM range(3)",
        f"SELECT '{NEEDLE[:-1]}' AS v",
    ],
)
def test_what_does_not_show_the_needle_passes(sql: str) -> None:
    assert not shows(result(sql)), sql


def test_bytes_under_nulls_are_not_read() -> None:
    """The slots under a null hold memory the engine left there: a freed path is not shown."""
    garbage = (NEEDLE.encode() * 4).ljust(8 * 16, b"\0")
    numbers = pa.Array.from_buffers(
        pa.float64(), 16, [pa.py_buffer(b"\0\0"), pa.py_buffer(garbage)], null_count=16
    )
    offsets = pa.py_buffer(pa.array([0, len(NEEDLE), len(NEEDLE)], pa.int32()).buffers()[1])
    texts = pa.Array.from_buffers(
        pa.string(),
        2,
        [pa.py_buffer(b"\x02"), offsets, pa.py_buffer(NEEDLE.encode())],
        null_count=1,
    )
    # The raw buffers hold the needle; the reader sees 16 nulls, and a null and an empty string.
    assert NEEDLE.encode() in b"".join(b.to_pybytes() for b in numbers.buffers() if b)
    assert texts.to_pylist() == [None, ""]
    for array in (numbers, texts):
        batch = pa.record_batch([array], names=["v"])
        assert not shows_any(batch.schema, [batch], [NEEDLE])


def test_a_slice_shows_only_its_own_values() -> None:
    table = result(f"SELECT CASE WHEN i = 0 THEN '{NEEDLE}' ELSE 'x' END AS v FROM range(4) t(i)")
    assert shows(table)
    assert not shows(table.slice(1))


def test_nested_leaves_carry_their_parents_nulls_and_slices() -> None:
    table = result(f"SELECT l FROM (VALUES (['{NEEDLE}']), (['plain'])) t(l) ORDER BY l DESC")
    leaves = [leaf.to_pylist() for leaf in text_leaves(table.column("l").combine_chunks())]
    assert leaves == [["plain", NEEDLE]]
    assert [leaf.to_pylist() for leaf in text_leaves(table.slice(0, 1).column("l").chunk(0))] == [
        ["plain"]
    ]


def test_no_needles_means_nothing_to_withhold() -> None:
    table = result(f"SELECT '{NEEDLE}' AS v")
    assert not shows_any(table.schema, table.to_batches(), [])
    assert not shows_any(table.schema, table.to_batches(), [""])


def test_duckdb_leaves_file_paths_under_nulls_and_the_check_does_not_read_them(
    tmp_path: Path,
) -> None:
    """What withheld an honest `SELECT *` at random: DuckDB's number column of a windowed
    result held, under its nulls, the bytes of file paths it had read."""
    root = tmp_path / "a-lake-directory-whose-name-is-long-enough" / "lake"
    con = duckdb.connect(config={"threads": 1})
    files = []
    for month in range(1, 13):
        path = root / "clean" / "indicators" / f"dt=2026-{month:02d}-01" / "part.parquet"
        path.parent.mkdir(parents=True)
        con.execute(
            "COPY (SELECT 'S' || (range % 20) AS symbol, range AS day, random() AS close "
            f"FROM range({month * 500}, {(month + 1) * 500})) TO '{path}' (FORMAT parquet)"
        )
        files.append(str(path))
    query = (
        "SELECT CASE WHEN row_number() OVER (PARTITION BY symbol ORDER BY day) < 50 THEN NULL "
        f"ELSE close END AS sma_50, filename FROM read_parquet({files!r}, filename = true)"
    )
    in_raw_bytes = 0
    for _ in range(20):
        table = con.execute(query).to_arrow_table().drop_columns(["filename"])
        batches = table.to_batches()
        raw = ipc_bytes(table.schema, batches)
        in_raw_bytes += str(root).encode() in raw
        assert not shows_any(table.schema, batches, [str(root)])
    # The control: the bytes were there to be found by a check of the raw payload.
    assert in_raw_bytes > 0
