"""The Delta Lake mirror end to end: every dataset, read by deltalake, Polars and DuckDB's
`delta_scan`, returns what `bucketpipe sql` returns, after each kind of commit, on a local lake
and on S3 (moto's HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import bucketpipe.catalog.datasets  # noqa: F401  (registers the derived datasets, as the CLI does)
from bucketpipe.clean.job import rebuild, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.delta_log import (
    actions,
    commit_keys,
    log_prefix,
    mirrored_version,
    reader_options,
    table_uri,
)
from bucketpipe.lake.snapshots import list_datasets, read_current
from bucketpipe.maintain.compaction import run_compaction
from bucketpipe.serve.tables import describe
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory
from tests.support.delta_readers import Readers, compare

pytestmark = pytest.mark.integration


def weekday_ahead() -> datetime:
    """15:00 UTC on a weekday at least two days ahead: the demo market is open, and files
    written now look older than any grace period by the clock of the scenario."""
    day = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    day += timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class Lake:
    """A context on an injected clock, and the readers of its lake."""

    def __init__(self, settings: Settings) -> None:
        self.now = weekday_ahead()
        self.ctx = Context.from_settings(settings)
        self.ctx.clock = lambda: self.now
        self.readers = Readers(settings, self.ctx.store)

    def ingest_and_clean(self, run: str, days: int = 3) -> None:
        ingest_demo(
            self.ctx,
            run_id=f"i{run}",
            symbols=["AAPL", "MSFT"],
            days=days,
            interval_minutes=60,
            seed=7,
        )
        assert run_clean(self.ctx, after_clean=AFTER_CLEAN, run_id=f"c{run}") is not None

    def check_every_dataset(self, step: str) -> dict[str, int]:
        """Every table is level with its snapshot and reads the same in every engine."""
        rows = {}
        self.readers.refresh()
        datasets = list_datasets(self.ctx.store)
        assert len(datasets) >= 15, datasets
        for name in datasets:
            snapshot = read_current(self.ctx.store, name)
            assert snapshot is not None
            info = describe(self.ctx.store, name)
            assert info.level, f"after {step}: {name} holds snapshot {info.mirrored}"
            assert (info.rows, info.files) == (snapshot.rows, len(snapshot.files)), name
            assert info.partition_columns == ("dt",)
            rows[name] = compare(self.readers, name)
            assert rows[name] == snapshot.rows, f"after {step}: {name}"
        return rows

    def uri(self, dataset: str) -> str:
        return table_uri(self.ctx.store, dataset)

    def options(self) -> dict[str, str]:
        return reader_options(self.ctx.store)

    def close(self) -> None:
        self.readers.close()
        self.ctx.close()


@pytest.fixture
def lake(lake_settings: SettingsFactory) -> Iterator[Lake]:
    # Each clean run adds files of its own (no small-file rewrite), so a compaction has files
    # to fold: one more kind of commit for every engine to read.
    made = Lake(lake_settings(sql_max_rows=1_000_000, vacuum_grace_hours=0, clean_small_file_mb=0))
    yield made
    made.close()


@pytest.mark.timeout(600)
def test_every_engine_reads_what_bucketpipe_sql_reads_after_every_kind_of_commit(
    lake: Lake,
) -> None:
    store = lake.ctx.store
    lake.ingest_and_clean("1")
    first = lake.check_every_dataset("the first clean")
    assert first["quotes"] > 0

    lake.now += timedelta(minutes=10)
    rebuild(lake.ctx, after_clean=AFTER_CLEAN, run_id="r1", datasets=["quotes", "company_profiles"])
    assert read_current(store, "quotes").operation == "rebuild"  # type: ignore[union-attr]
    lake.check_every_dataset("a rebuild")

    lake.now += timedelta(hours=1)
    lake.ingest_and_clean("2", days=1)
    lake.check_every_dataset("a second ingest and clean")

    # Into the next month, this month's partitions are closed: compaction rewrites them,
    # retention runs, and vacuum (grace 0) deletes every file no snapshot or recent Delta
    # version needs.
    before = read_current(store, "quotes")
    lake.now = (lake.now.replace(day=1) + timedelta(days=32)).replace(day=2)
    manifest = run_compaction(lake.ctx, run_id="k1")
    assert "quotes" in manifest.details["datasets"], manifest.details["datasets"]
    after = read_current(store, "quotes")
    assert after is not None and before is not None and after.version == before.version + 1
    assert manifest.details["vacuum"]["quotes"]["files_deleted"] > 0
    rows = lake.check_every_dataset("compaction, retention and vacuum")
    assert rows["quotes"] == before.rows
    # The compaction's Delta commit changed files, not rows; the log was tidied to a checkpoint.
    # (The log is read here, not with deltalake's `history()`: that call holds the GIL while it
    # waits for the moto server running in this very process.)
    commits = commit_keys(store, "quotes")
    newest = list(actions(store, commits[-1][1]))
    info = next(a["commitInfo"] for a in newest if "commitInfo" in a)
    assert info["bucketpipe.operation"] == "compact"
    assert {a["add"]["dataChange"] for a in newest if "add" in a} == {False}
    assert mirrored_version(iter(newest)) == after.version
    log_keys = [i.key for i in store.list_objects(log_prefix("quotes"))]
    assert any(key.endswith(".checkpoint.parquet") for key in log_keys), log_keys


def test_time_travel_reads_an_earlier_snapshot_within_the_grace_period(
    lake_settings: SettingsFactory,
) -> None:
    lake = Lake(lake_settings(sql_max_rows=1_000_000))
    try:
        lake.ingest_and_clean("1")
        first = read_current(lake.ctx.store, "quotes")
        lake.now += timedelta(hours=1)
        lake.ingest_and_clean("2", days=1)
        import polars as pl
        from deltalake import DeltaTable

        uri, options = lake.uri("quotes"), lake.options()
        table = DeltaTable(uri, storage_options=options)
        assert first is not None and table.version() >= 1
        old = pl.read_delta(uri, version=0, storage_options=options)
        assert old.height == first.rows
    finally:
        lake.close()
