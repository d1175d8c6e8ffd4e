"""The merge's batch as a view of the rows (no copy) commits exactly what a copied batch does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from bucketpipe.catalog.spec import ConflictPolicy
from bucketpipe.clean.engine import BATCH, MergeOutcome, Target, drop_batch, merge_rows
from bucketpipe.lake.duck import sql_list
from bucketpipe.lake.snapshots import read_current
from bucketpipe.lake.storage import LocalStore

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
# Keys repeated within the batch (a tie on `_fetched_at` broken by the run), keys seen once, a
# key repeated with the same content, and a second day (another partition).
ROWS = """
SELECT * FROM (VALUES
    ('AAA', TIMESTAMPTZ '2026-12-01 10:00:00+00', 1.0, TIMESTAMPTZ '2026-12-01 10:01:00+00', 'r1'),
    ('AAA', TIMESTAMPTZ '2026-12-01 10:00:00+00', 2.0, TIMESTAMPTZ '2026-12-01 10:01:00+00', 'r2'),
    ('AAA', TIMESTAMPTZ '2026-12-01 10:00:00+00', 3.0, TIMESTAMPTZ '2026-12-01 10:00:30+00', 'r0'),
    ('BBB', TIMESTAMPTZ '2026-12-01 10:00:00+00', 4.0, TIMESTAMPTZ '2026-12-01 10:01:00+00', 'r1'),
    ('CCC', TIMESTAMPTZ '2026-12-01 10:15:00+00', 5.0, TIMESTAMPTZ '2026-12-01 10:16:00+00', 'r1'),
    ('CCC', TIMESTAMPTZ '2026-12-01 10:15:00+00', 5.0, TIMESTAMPTZ '2026-12-01 10:16:00+00', 'r1'),
    ('AAA', TIMESTAMPTZ '2026-12-02 10:00:00+00', 6.0, TIMESTAMPTZ '2026-12-02 10:01:00+00', 'r3')
) AS t(symbol, ts, price, _fetched_at, _ingest_run)
"""


def committed(store: LocalStore, dataset: str) -> list[tuple[object, ...]]:
    snapshot = read_current(store, dataset)
    assert snapshot is not None
    files = sql_list([store.duckdb_path(f.key) for f in snapshot.files])
    return duckdb.sql(f"SELECT * FROM read_parquet({files}) ORDER BY ALL").fetchall()


@pytest.mark.parametrize("policy", ["keep", "latest"])
@pytest.mark.parametrize("repeats", [True, False])
def test_a_view_batch_commits_what_a_copied_batch_does(
    tmp_path: Path, policy: ConflictPolicy, repeats: bool
) -> None:
    store = LocalStore(tmp_path / "lake")
    con = duckdb.connect(str(tmp_path / "work.duckdb"))
    rows = ROWS if repeats else f"SELECT * FROM ({ROWS}) WHERE price IN (1.0, 4.0, 6.0)"
    con.execute(f"CREATE TABLE _rows AS {rows}")
    results = {}
    for batch_view in (False, True):
        dataset = f"prices_{'view' if batch_view else 'copy'}"
        seen: list[int] = []
        outcome = merge_rows(
            con,
            store,
            Target(dataset, ("symbol", "ts"), "ts", policy),
            rows_table="_rows",
            run_id="run-1",
            scratch=tmp_path / dataset,
            replace_all=True,
            now=NOW,
            before_write=seen.append,
            batch_view=batch_view,
        )
        batch = con.execute(f"SELECT * FROM {BATCH} ORDER BY ALL").fetchall()
        results[batch_view] = (
            committed(store, dataset),
            batch,
            seen,
            outcome.rows_in,
            outcome.rows_written,
            outcome.rows_duplicate,
        )
        drop_batch(con)
    assert results[True] == results[False]
    rows_written = results[True][4]
    assert rows_written == 4 if repeats else rows_written == 3
    if repeats:
        kept = {r[2] for r in results[True][0] if r[0] == "AAA"}
        # Ties on `_fetched_at` end on the ingest run: the later run under `latest`.
        assert kept == ({2.0, 6.0} if policy == "latest" else {3.0, 6.0})
    assert con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('_batch', '_kept', '_repeated')"
    ).fetchone() == (0,)


@pytest.mark.parametrize(("policy", "kept"), [("latest", "2026-10-30"), ("keep", "2026-11-02")])
def test_a_key_whose_time_moves_to_another_partition_stays_one_row(
    tmp_path: Path, policy: ConflictPolicy, kept: str
) -> None:
    """A key without the event time (a release per company and quarter) can move to another
    month: the committed row in the old month's partition is matched and replaced (or kept),
    never left beside the new one."""
    store = LocalStore(tmp_path / "lake")
    con = duckdb.connect(str(tmp_path / "work.duckdb"))
    target = Target("releases", ("symbol", "quarter"), "report_date", policy, partition_by="month")
    deliveries = [("2026-11-02", "2026-11-01 08:00:00+00", "r1")]
    deliveries.append(("2026-10-30", "2026-11-03 08:00:00+00", "r2"))
    for index, (day, fetched, run) in enumerate(deliveries):
        con.execute(
            "CREATE OR REPLACE TABLE _rows AS SELECT 'AAA' AS symbol, 3 AS quarter, "
            f"DATE '{day}' AS report_date, TIMESTAMPTZ '{fetched}' AS _fetched_at, "
            f"'{run}' AS _ingest_run"
        )
        merge_rows(
            con, store, target, rows_table="_rows", run_id=f"c{index}", scratch=tmp_path / run
        )
        drop_batch(con)
    rows = committed(store, "releases")
    assert [(r[0], r[1], str(r[2])) for r in rows] == [("AAA", 3, kept)]


@pytest.mark.parametrize("policy", ["keep", "latest"])
def test_a_partition_keeps_one_small_file_between_compactions(
    tmp_path: Path, policy: ConflictPolicy
) -> None:
    """Each run's rows of a partition are written together with that partition's small
    committed files, which the same commit removes: the partition stays one file however many
    runs wrote to it, every row is kept once, and a big file is left as it is."""
    store = LocalStore(tmp_path / "lake")
    con = duckdb.connect(str(tmp_path / "work.duckdb"))
    target = Target("ticks", ("symbol", "ts"), "ts", policy)

    def run(n: int, rows: str, small: int = 8 << 20) -> MergeOutcome:
        con.execute(f"CREATE OR REPLACE TABLE _rows AS {rows}")
        outcome = merge_rows(
            con,
            store,
            target,
            rows_table="_rows",
            run_id=f"run-{n}",
            scratch=tmp_path / f"s{n}",
            small_file_bytes=small,
        )
        drop_batch(con)
        return outcome

    def tick(symbol: str, minute: int, price: float, day: int = 1) -> str:
        at = f"TIMESTAMPTZ '2026-12-0{day} 10:{minute:02d}:00+00'"
        return f"SELECT '{symbol}' AS symbol, {at} AS ts, {price} AS price, {at} AS _fetched_at"

    run(1, f"{tick('AAA', 0, 1.0)} UNION ALL {tick('BBB', 0, 2.0)}")
    second = run(2, f"{tick('AAA', 15, 3.0)} UNION ALL {tick('AAA', 0, 1.0)}")
    assert (second.rows_written, second.rows_duplicate, second.rows_copied) == (1, 1, 2)
    assert len(second.files_removed) == 1
    third = run(3, f"{tick('CCC', 30, 4.0)} UNION ALL {tick('AAA', 0, 9.0, day=2)}")
    snapshot = read_current(store, "ticks")
    assert snapshot is not None
    assert sorted((f.partition, f.rows) for f in snapshot.files) == [
        ("2026-12-01", 4),
        ("2026-12-02", 1),
    ]
    assert third.rows_written == 2
    assert [r[:3] for r in committed(store, "ticks")] == [
        ("AAA", datetime(2026, 12, 1, 10, 0, tzinfo=UTC), 1.0),
        ("AAA", datetime(2026, 12, 1, 10, 15, tzinfo=UTC), 3.0),
        ("AAA", datetime(2026, 12, 2, 10, 0, tzinfo=UTC), 9.0),
        ("BBB", datetime(2026, 12, 1, 10, 0, tzinfo=UTC), 2.0),
        ("CCC", datetime(2026, 12, 1, 10, 30, tzinfo=UTC), 4.0),
    ]
    # A file past the size (here every file: 1 byte) is left to `bucketpipe compact`.
    run(4, tick("DDD", 45, 5.0), small=1)
    snapshot = read_current(store, "ticks")
    assert snapshot is not None
    assert sorted(f.partition or "" for f in snapshot.files) == [
        "2026-12-01",
        "2026-12-01",
        "2026-12-02",
    ]
