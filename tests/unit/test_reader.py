"""The reader's views: a dataset's snapshot, and its recent window pruned by file metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bucketpipe.lake.commits import commit
from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry, Snapshot
from bucketpipe.lake.storage import LocalStore
from bucketpipe.serve.queries.base import views
from bucketpipe.serve.reader import LakeReader, recent_relation_sql, recent_view

COLUMNS = (("symbol", "VARCHAR"), ("ts", "TIMESTAMPTZ"))


def add_day(store: LocalStore, work: Path, day: str, hours: list[int]) -> FileEntry:
    """One Parquet file of quotes of symbol AAA at the given hours of `day`."""
    path = work / f"{day}.parquet"
    rows = ", ".join(f"('AAA', TIMESTAMPTZ '{day} {h:02d}:00:00+00')" for h in hours)
    duckdb.execute(
        f"COPY (SELECT * FROM (VALUES {rows}) AS t(symbol, ts)) TO '{path}' (FORMAT parquet)"
    )
    key = clean_key("quotes", day, "r1")
    store.upload(key, path)
    return FileEntry(
        key=key,
        rows=len(hours),
        partition=day,
        min_time=datetime.fromisoformat(f"{day}T{min(hours):02d}:00:00+00:00"),
        max_time=datetime.fromisoformat(f"{day}T{max(hours):02d}:00:00+00:00"),
    )


def quotes_lake(tmp_path: Path) -> tuple[LocalStore, Snapshot]:
    store = LocalStore(tmp_path / "lake")
    work = tmp_path / "work"
    work.mkdir()
    files = [
        add_day(store, work, "2026-01-01", [10, 20]),
        add_day(store, work, "2026-03-01", [9, 23]),
        add_day(store, work, "2026-03-10", [12]),
    ]
    snap = commit(store, "quotes", run_id="r1", add=files, columns=COLUMNS)
    return store, snap


def test_the_recent_window_skips_old_files_and_cuts_straddling_ones(tmp_path: Path) -> None:
    store, snap = quotes_lake(tmp_path)
    sql = recent_relation_sql(store, snap, "ts", days=9)
    assert sql is not None
    assert "2026-01-01" not in sql  # the old file is not even opened
    rows = duckdb.execute(f"SELECT ts FROM ({sql}) ORDER BY ts").fetchall()
    # Newest 2026-03-10 12:00; the window starts 2026-03-01 12:00: 09:00 that day is cut.
    assert [r[0].astimezone(UTC).isoformat() for r in rows] == [
        "2026-03-01T23:00:00+00:00",
        "2026-03-10T12:00:00+00:00",
    ]


def test_no_window_without_time_metadata_or_when_it_would_hold_everything(
    tmp_path: Path,
) -> None:
    store, snap = quotes_lake(tmp_path)
    assert recent_relation_sql(store, snap, "not_a_column") is None
    assert recent_relation_sql(store, snap, "ts", days=400) is None
    bare = snap.model_copy(
        update={"files": tuple(f.model_copy(update={"max_time": None}) for f in snap.files)}
    )
    assert recent_relation_sql(store, bare, "ts") is None


def test_registered_windows_are_not_listed_as_datasets(tmp_path: Path) -> None:
    store, _ = quotes_lake(tmp_path)
    con = duckdb.connect()
    assert LakeReader(store).register_views(con) == {"quotes": 1}
    assert views(con) == {"quotes"}
    count = con.execute(f"SELECT count(*) FROM {recent_view('quotes')}").fetchone()
    assert count == (3,)  # January is more than RECENT_DAYS before the newest quote
