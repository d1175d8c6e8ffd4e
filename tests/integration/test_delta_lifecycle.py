"""The Delta mirror's rules, one test each: a failed write never fails the commit and the next
run catches up; old lakes are backfilled; vacuum keeps the log and what a recent Delta version
references; a schema change (new column, widened types) reads the same in every engine."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import bucketpipe.catalog.datasets  # noqa: F401  (registers the derived datasets, as the CLI does)
from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.bucket.mapping import Mapping
from bucketpipe.ingest.bucket.source import land
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake import delta
from bucketpipe.lake.delta_log import head_snapshot_version, is_log_key, log_prefix, table_uri
from bucketpipe.lake.snapshots import commit, list_datasets, read_current
from bucketpipe.maintain.vacuum import vacuum
from bucketpipe.serve.tables import describe
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory
from tests.integration.test_delta_mirror import weekday_ahead
from tests.support.delta_readers import Readers, compare

pytestmark = pytest.mark.integration


class Runs:
    """Demo ingest and clean runs on one lake, on an injected clock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.now = weekday_ahead()
        self.ctx = Context.from_settings(settings)
        self.ctx.clock = lambda: self.now
        self.count = 0

    def ingest_and_clean(self, *, days: int = 2) -> None:
        self.count += 1
        self.now += timedelta(hours=1)
        ingest_demo(
            self.ctx,
            run_id=f"i{self.count}",
            symbols=["AAPL"],
            days=days,
            interval_minutes=60,
            seed=7,
        )
        manifest = run_clean(self.ctx, after_clean=AFTER_CLEAN, run_id=f"c{self.count}")
        assert manifest is not None and manifest.status == "succeeded"

    def with_settings(self, **overrides: object) -> Runs:
        """The same lake and clock, other settings (the next run of a reconfigured job)."""
        other = Runs(self.settings.model_copy(update=overrides))
        other.now, other.count = self.now, self.count
        return other


@pytest.fixture
def runs(make_settings: SettingsFactory) -> Iterator[Runs]:
    made = Runs(make_settings(sql_max_rows=1_000_000))
    yield made
    made.ctx.close()


def test_a_failed_mirror_write_never_fails_the_commit_and_the_next_run_catches_up(
    runs: Runs, caplog: pytest.LogCaptureFixture
) -> None:
    # Where quotes' log should go is a file: every Delta write to that table fails.
    blocker = Path(runs.settings.lake) / log_prefix("quotes").rstrip("/")
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    with caplog.at_level(logging.WARNING, logger="bucketpipe.lake.delta"):
        runs.ingest_and_clean()
    assert any(
        r.message.startswith("Delta table not synced") and getattr(r, "dataset", "") == "quotes"
        for r in caplog.records
    )
    store = runs.ctx.store
    assert read_current(store, "quotes") is not None  # committed all the same
    assert describe(store, "quotes").version is None
    assert describe(store, "candles").level  # the other tables were not held up
    blocker.unlink()
    assert (
        run_clean(runs.ctx, after_clean=AFTER_CLEAN, run_id="c-idle") is None
    )  # nothing pending: an idle run
    assert describe(store, "quotes").level
    compare(Readers(runs.settings, store), "quotes")


def test_a_lake_from_before_the_mirror_is_backfilled_on_its_first_run(runs: Runs) -> None:
    old = runs.with_settings(delta_mirror=False)
    old.ingest_and_clean()
    store = old.ctx.store
    datasets = list_datasets(store)
    assert datasets and all(describe(store, name).version is None for name in datasets)
    runs.count = old.count
    runs.ingest_and_clean(days=1)
    readers = Readers(runs.settings, store)
    for name in datasets:
        assert describe(store, name).level, name
        compare(readers, name)
    readers.close()


def test_vacuum_keeps_the_log_and_files_a_recent_delta_version_references(runs: Runs) -> None:
    runs.ingest_and_clean()
    store = runs.ctx.store
    mirrored = read_current(store, "quotes")
    assert mirrored is not None
    # A commit the mirror has not caught up with: it drops every file of the table.
    dropped = commit(
        store, "quotes", run_id="drop", remove=mirrored.keys, now=runs.now, operation="rebuild"
    )
    assert head_snapshot_version(store, "quotes") == mirrored.version != dropped.version
    later = runs.now + timedelta(days=1)
    # Our snapshots no longer need the files (keep one version, no grace), the Delta table
    # does: they stay, and so does the whole log.
    vacuum(store, "quotes", grace=timedelta(0), now=later, keep_versions=1)
    kept = {info.key for info in store.list_objects("clean/quotes/")}
    assert set(mirrored.keys) <= kept
    assert any(is_log_key(k) for k in kept)
    # Once the table drops them too, they stay for the grace period after that commit ...
    delta.sync(store, "quotes", delta.Policy())
    vacuum(
        store,
        "quotes",
        grace=timedelta(hours=6),
        now=dropped.created_at + timedelta(hours=5),
        keep_versions=1,
    )
    assert set(mirrored.keys) <= {info.key for info in store.list_objects("clean/quotes/")}
    # ... and not after it; the log still stays.
    vacuum(
        store,
        "quotes",
        grace=timedelta(hours=6),
        now=dropped.created_at + timedelta(hours=7),
        keep_versions=1,
    )
    left = {info.key for info in store.list_objects("clean/quotes/")}
    assert not set(mirrored.keys) & left
    assert left and all(is_log_key(k) for k in left)
    assert describe(store, "quotes").level


def test_new_columns_and_widened_types_read_the_same_in_every_engine(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    (source / "sensors").mkdir(parents=True)
    settings = make_settings(source=str(source), sql_max_rows=1_000_000)
    ctx = Context.from_settings(settings)
    readers = Readers(settings, ctx.store)
    (source / "sensors" / "a.csv").write_text("id,value,day\n1,10,2026-01-01\n2,20,2026-01-02\n")
    land(ctx, run_id="b1", mapping=Mapping())
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="c1")
    compare(readers, "sensors")
    (source / "sensors" / "b.csv").write_text("id,value,day,site\n3,2.5,2026-01-03 10:00:00,x\n")
    land(ctx, run_id="b2", mapping=Mapping())
    manifest = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="c2")
    assert manifest is not None
    retyped = manifest.datasets["sensors"].model_dump()["drift"]["retyped_columns"]
    assert {name: change["action"] for name, change in retyped.items()} == {
        "value": "widened",
        "day": "widened",
    }
    snapshot = read_current(ctx.store, "sensors")
    assert snapshot is not None and snapshot.operation == "widen"
    readers.refresh()
    assert compare(readers, "sensors") == 3
    ctx.close()
    readers.close()


def test_time_filters_skip_files_by_their_statistics_without_losing_rows(runs: Runs) -> None:
    runs.ingest_and_clean(days=40)
    store = runs.ctx.store
    snapshot = read_current(store, "candles")
    assert snapshot is not None and snapshot.time_column == "ts" and len(snapshot.files) >= 2
    readers = Readers(runs.settings, store)
    import polars as pl

    uri = table_uri(store, "candles")
    # Each file's own bounds: the rows exactly at a boundary must not be skipped.
    bounds = sorted({t for f in snapshot.files for t in (f.min_time, f.max_time) if t})
    for moment in (bounds[1], bounds[len(bounds) // 2], bounds[-2]):
        literal = f"TIMESTAMPTZ '{moment.isoformat()}'"
        for op in (">=", "<=", "="):
            expected = readers.sql_count(f"SELECT count(*) FROM candles WHERE ts {op} {literal}")
            column = pl.col("ts")
            cond = {">=": column >= moment, "<=": column <= moment, "=": column == moment}[op]
            assert pl.scan_delta(uri).filter(cond).collect().height == expected, (op, moment)
            query = f"SELECT count(*) FROM delta_scan('{uri}') WHERE ts {op} {literal}"
            assert readers.duck_count(query) == expected, (op, moment)
    readers.close()
