"""A dataset moving to a coarser partition grain: quotes were kept in day partitions, then in
month partitions, before they moved to quarter partitions. Files already in finer folders keep
their rows readable, a re-ingest of one of those days finds the committed rows there (no
duplicate), and compaction moves the files of a closed quarter into one quarter partition."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bucketpipe import catalog
from bucketpipe.catalog.datasets import DATASETS
from bucketpipe.clean.job import run_clean
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.duck import connect
from bucketpipe.lake.snapshots import read_current
from bucketpipe.maintain.compaction import run_compaction
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration

SYMBOLS = ["AAPL", "MSFT"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def quote_figures(ctx: Context) -> tuple[int, int, float]:
    """Rows, distinct (symbol, ts) keys and the price total of the committed quotes."""
    snapshot = read_current(ctx.store, "quotes")
    assert snapshot is not None
    paths = [ctx.store.duckdb_path(f.key) for f in snapshot.files]
    row = (
        connect(ctx.settings)
        .execute(
            "SELECT count(*), count(DISTINCT (symbol, ts)), round(sum(price), 4) "
            f"FROM read_parquet({paths}, hive_partitioning = false)"
        )
        .fetchone()
    )
    assert row is not None
    return int(row[0]), int(row[1]), float(row[2])


@pytest.mark.parametrize("finer", ["day", "month"])
def test_finer_partitions_of_a_quarter_grain_dataset_are_found_and_moved(
    lake_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch, finer: str
) -> None:
    settings = lake_settings()
    # The fifth of a month, so the demo's days (ten days back from here) span two months.
    clock = Clock(datetime.now(UTC).replace(day=5, hour=22, minute=0, second=0, microsecond=0))
    ctx = Context.from_settings(settings)
    ctx.clock = clock
    # Written the way a previous layout did: quotes in day or month partitions.
    spec = catalog.get("quotes")
    assert spec.partition_by == "quarter"
    daily = dataclasses.replace(spec, partition_by=finer)
    monkeypatch.setattr(catalog, "DATASETS", tuple(daily if s is spec else s for s in DATASETS))
    monkeypatch.setitem(catalog._BY_NAME, "quotes", daily)
    ingest_demo(ctx, run_id="demo-1", symbols=SYMBOLS, days=10, interval_minutes=60, seed=7)
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    monkeypatch.setattr(catalog, "DATASETS", DATASETS)
    monkeypatch.setitem(catalog._BY_NAME, "quotes", spec)
    before = read_current(ctx.store, "quotes")
    assert before is not None
    folders = {f.partition for f in before.files}
    if finer == "day":
        assert len(folders) >= 5 and any(not p.endswith("-01") for p in folders)
    else:
        assert len(folders) == 2 and all(p.endswith("-01") for p in folders)
    rows, keys, total = quote_figures(ctx)
    assert rows == keys

    # Another seed re-delivers the same days with other prices: every committed key is found
    # in its day folder and replaced (latest wins), none is added twice.
    clock.now += timedelta(hours=1)
    ingest_demo(ctx, run_id="demo-2", symbols=SYMBOLS, days=10, interval_minutes=60, seed=8)
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-2")
    rows2, keys2, total2 = quote_figures(ctx)
    assert rows2 == keys2 == keys and total2 != total

    # Next quarter: the quarters of those days are closed, and their finer folders become
    # one quarter partition each.
    quarter = (clock.now.month - 1) // 3 * 3 + 1
    clock.now = (clock.now.replace(month=quarter, day=1) + timedelta(days=100)).replace(day=2)
    run_compaction(ctx, run_id="compact-1")
    after = read_current(ctx.store, "quotes")
    assert after is not None
    assert quote_figures(ctx) == (rows2, keys2, total2)
    partitions = {f.partition for f in after.files}
    starts = {f"{clock.now.year - y}-{m:02d}-01" for y in (0, 1) for m in (1, 4, 7, 10)}
    assert partitions and partitions <= starts, partitions
    assert len(after.files) == len(partitions) <= 2, [f.key for f in after.files]
    ctx.close()
