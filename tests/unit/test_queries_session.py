"""LakeSession: views over committed snapshots, refreshed only when a commit happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.layout import clean_key, current_key
from bucketpipe.lake.snapshots import FileEntry, commit
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.queries.session import FULL_SYNC_EVERY_S, LakeSession
from tests.conftest import SettingsFactory


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def add_rows(store: ObjectStore, work: Path, dataset: str, values: list[int], run: str) -> None:
    """Commit one Parquet file with column `n` to the dataset."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{dataset}-{run}.parquet"
    rows = ", ".join(f"({v})" for v in values)
    duckdb.execute(f"COPY (SELECT * FROM (VALUES {rows}) AS t(n)) TO '{path}' (FORMAT parquet)")
    key = clean_key(dataset, "2026-01-01", run)
    store.upload(key, path)
    commit(store, dataset, run_id=run, add=[FileEntry(key=key, rows=len(values))])


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
    assert s.sync() == ("notes",)
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


@pytest.mark.integration
def test_with_redis_only_a_bumped_counter_triggers_a_sync(
    lake: tuple[Settings, ObjectStore], redis_url: str
) -> None:
    settings, store = lake
    clock = Clock()
    signals = Signals.from_settings(Settings(redis_url=redis_url))
    s = LakeSession(settings, store, signals, clock=clock)
    first = s.poll()
    assert first.source == "redis" and first.versions == {"notes": 1, "quotes": 1}
    add_rows(store, Path(settings.temp_dir) / "work", "quotes", [10], "r2")
    clock.now += 1
    assert s.poll().changed == ()  # one Redis round trip said nothing moved
    signals.bump_version("quotes")
    clock.now += 1
    assert s.poll().changed == ("quotes",)
    # A commit made while Redis was away is still found by the periodic full check.
    add_rows(store, Path(settings.temp_dir) / "work", "notes", [1], "r3")
    clock.now += FULL_SYNC_EVERY_S
    assert s.poll().changed == ("notes",)
    s.close()
