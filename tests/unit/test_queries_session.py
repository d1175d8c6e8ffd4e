"""LakeSession: views over committed snapshots, refreshed only when a commit happened."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.commits import commit
from bucketpipe.lake.layout import clean_key, current_key
from bucketpipe.lake.snapshots import FileEntry
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.queries.session import LakeSession, reader_settings
from tests.conftest import SettingsFactory
from tests.support.lakes import Clock, add_rows


@pytest.fixture
def lake(make_settings: SettingsFactory) -> tuple[Settings, ObjectStore]:
    settings = make_settings()
    store = lake_store(settings)
    work = Path(settings.temp_dir) / "work"
    add_rows(store, work, "quotes", [1, 2], "r1")
    add_rows(store, work, "notes", [7], "r1")
    return settings, store


@pytest.fixture
def session(lake: tuple[Settings, ObjectStore]) -> Iterator[tuple[LakeSession, Clock]]:
    settings, store = lake
    clock = Clock()
    lake_session = LakeSession(settings, store, Signals(None), clock=clock)
    yield lake_session, clock
    lake_session.close()


def total(s: LakeSession, view: str) -> int:
    row = s.cursor().execute(f"SELECT sum(n) FROM {view}").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def test_first_poll_registers_every_dataset(session: tuple[LakeSession, Clock]) -> None:
    s, _ = session
    result = s.poll()
    assert result.changed == ("notes", "quotes")
    assert result.versions == {"notes": 1, "quotes": 1}
    assert result.source == "snapshots"
    assert total(s, "quotes") == 3 and s.has("notes")


def test_a_commit_changes_only_its_datasets_key(
    lake: tuple[Settings, ObjectStore], session: tuple[LakeSession, Clock]
) -> None:
    settings, store = lake
    s, clock = session
    s.poll()
    notes_key, quotes_key = s.version_key(["notes"]), s.version_key(["quotes"])
    assert s.poll().changed == ()  # nothing committed: nothing to redo
    add_rows(store, Path(settings.temp_dir) / "work", "quotes", [10], "r2")
    clock.now += 1
    result = s.poll()
    assert result.changed == ("quotes",)
    assert s.version_key(["quotes"]) != quotes_key
    assert s.version_key(["notes"]) == notes_key  # cached results of notes stay valid
    assert total(s, "quotes") == 13


def test_polls_are_throttled_across_callers(
    lake: tuple[Settings, ObjectStore], session: tuple[LakeSession, Clock]
) -> None:
    settings, store = lake
    s, clock = session
    s.poll(min_interval_s=5)
    add_rows(store, Path(settings.temp_dir) / "work", "quotes", [10], "r2")
    clock.now += 2
    assert s.poll(min_interval_s=5).versions["quotes"] == 1  # too soon: the last result
    clock.now += 4
    assert s.poll(min_interval_s=5).versions["quotes"] == 2


def test_a_removed_dataset_loses_its_view(
    lake: tuple[Settings, ObjectStore], session: tuple[LakeSession, Clock]
) -> None:
    _, store = lake
    s, _ = session
    s.poll()
    store.delete([current_key("notes"), "_snapshots/notes/0000000001.json"])
    assert s.sync() == ()  # the lake index still names it, until `compact` prunes it
    assert s.sync(full=True) == ("notes",)
    assert "notes" not in s.datasets()
    with pytest.raises(duckdb.CatalogException):
        total(s, "notes")


def test_unknown_dataset_has_version_zero(session: tuple[LakeSession, Clock]) -> None:
    s, _ = session
    s.poll()
    assert s.version_key(["nope", "quotes"]) == (("nope", 0), ("quotes", 1))
    assert not s.has("nope")


def test_ensure_fresh_syncs_only_when_stale(
    lake: tuple[Settings, ObjectStore], session: tuple[LakeSession, Clock]
) -> None:
    settings, store = lake
    s, clock = session
    s.sync()
    add_rows(store, Path(settings.temp_dir) / "work", "quotes", [10], "r2")
    s.ensure_fresh(max_age_s=10)
    assert s.versions()["quotes"] == 1
    clock.now += 10
    s.ensure_fresh(max_age_s=10)
    assert s.versions()["quotes"] == 2


def test_reader_settings_swap_in_read_only_credentials(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        aws_access_key_id="writer",
        aws_secret_access_key="writer-secret",
        reader_access_key_id="reader",
        reader_secret_access_key="reader-secret",
    )
    readers = reader_settings(settings)
    assert readers.aws_access_key_id is not None
    assert readers.aws_access_key_id.get_secret_value() == "reader"
    assert readers.aws_secret_access_key is not None
    assert readers.aws_secret_access_key.get_secret_value() == "reader-secret"
    assert reader_settings(make_settings()).aws_access_key_id is None


def commit_files(
    store: ObjectStore, work: Path, files: list[str], columns: list[tuple[str, str]]
) -> None:
    """Commit one file per SELECT in `files` to `mixed`, its snapshot naming `columns`."""
    work.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, select in enumerate(files):
        path = work / f"mixed-{i}.parquet"
        duckdb.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
        key = clean_key("mixed", "2026-01-01", f"f{i}")
        store.upload(key, path)
        entries.append(FileEntry(key=key, rows=1))
    commit(store, "mixed", run_id="r1", add=entries, columns=columns)


def mixed_rows(s: LakeSession) -> list[tuple[object, ...]]:
    s.sync()
    return s.run(
        ["mixed"], lambda con: con.execute("SELECT * EXCLUDE (dt) FROM mixed ORDER BY n").fetchall()
    )


def test_files_of_one_schema_open_only_the_first_for_the_view(
    lake: tuple[Settings, ObjectStore], session: tuple[LakeSession, Clock]
) -> None:
    settings, store = lake
    s, _ = session
    one = [("n", "INTEGER"), ("m", "VARCHAR")]
    commit_files(store, Path(settings.temp_dir) / "w", ["SELECT 1 AS n, 'a' AS m"] * 2, one)
    assert mixed_rows(s) == [(1, "a"), (1, "a")]
    assert "union_by_name = CAST('f'" in view_sql(s, "mixed")


@pytest.mark.parametrize(
    "files",
    [
        # The first file lacks a column: it does not show the snapshot's columns.
        ["SELECT 1 AS n", "SELECT 3 AS n, 'c' AS m"],
        # A later file lacks a column: DuckDB says so while reading, the view is lined up.
        ["SELECT 3 AS n, 'c' AS m", "SELECT 1 AS n"],
    ],
)
def test_files_of_other_schemas_are_lined_up_by_name(
    lake: tuple[Settings, ObjectStore], session: tuple[LakeSession, Clock], files: list[str]
) -> None:
    settings, store = lake
    s, _ = session
    commit_files(store, Path(settings.temp_dir) / "w", files, [("n", "INTEGER"), ("m", "VARCHAR")])
    rows = mixed_rows(s)
    assert rows[-1] == (3, "c") and len(rows) == 2


def view_sql(s: LakeSession, name: str) -> str:
    row = s.con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()
    return str(row[0]) if row else ""


def test_a_time_range_reads_only_the_files_that_may_hold_it(
    lake: tuple[Settings, ObjectStore], session: tuple[LakeSession, Clock]
) -> None:
    settings, store = lake
    s, _ = session
    work = Path(settings.temp_dir) / "w"
    work.mkdir(parents=True)
    entries = []
    for day in (1, 2, 3):
        path = work / f"q{day}.parquet"
        duckdb.execute(f"COPY (SELECT {day} AS n) TO '{path}' (FORMAT parquet)")
        key = clean_key("ticks", f"2026-01-0{day}", "r1")
        store.upload(key, path)
        at = datetime(2026, 1, day, 12, tzinfo=UTC)
        entries.append(FileEntry(key=key, rows=1, min_time=at, max_time=at))
    commit(store, "ticks", run_id="r1", add=entries, columns=[("n", "INTEGER")])
    s.sync()
    start = datetime(2026, 1, 2, tzinfo=UTC)
    sql = s.pruned("ticks", start, start + timedelta(days=2))
    assert "dt=2026-01-01" not in sql and "dt=2026-01-03" in sql
    assert s.run(["ticks"], lambda con: con.execute(f"SELECT sum(n) FROM ({sql})").fetchone()) == (
        5,
    )
    assert s.pruned("nope", start, start) == "nope"
