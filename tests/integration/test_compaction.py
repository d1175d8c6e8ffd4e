"""Compaction: object counts over simulated days of scheduled runs, and unchanged query results.

The simulation runs the real jobs (demo ingest, bucket ingest of a small CSV, clean) on an
injected clock, with a daily `compact`, and prints the objects added per simulated day before
and after compaction. The normal suite runs hourly; `--long` runs the 15-minute schedule.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bucketpipe import catalog
from bucketpipe.clean.job import rebuild, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.bucket.mapping import Mapping
from bucketpipe.ingest.bucket.source import land
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.duck import connect, quote_ident
from bucketpipe.lake.parquet import CLEAN_ROW_GROUP
from bucketpipe.lake.quarantine import summary
from bucketpipe.lake.snapshots import FileEntry, Snapshot, period_start, read_current
from bucketpipe.maintain.compaction import (
    OPEN_PARTITION_FILES,
    closed_partitions,
    open_partitions,
    period_end,
    run_compaction,
)
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration

ContextFactory = Callable[[Settings], Context]


def start_day() -> datetime:
    """Midnight UTC of a weekday at least two days ahead (simulated files then look older than
    the real ones, and the demo market trades that day)."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day += timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def count_objects(ctx: Context) -> int:
    return sum(1 for _ in ctx.store.list_objects(""))


def by_area(ctx: Context) -> dict[str, int]:
    """Objects per top-level area (`clean`, `raw`, `_runs`, ...)."""
    out: dict[str, int] = {}
    for info in ctx.store.list_objects(""):
        area = info.key.split("/", 1)[0]
        out[area] = out.get(area, 0) + 1
    return out


def dump(ctx: Context, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every dataset, sorted, as readers see them (minus `skip` columns)."""
    con = connect(ctx.settings)
    reader = LakeReader(ctx.store)
    reader.register_views(con)
    out = {}
    for name in reader.datasets():
        described = con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()
        cols = [r[0] for r in described if r[0] not in skip]
        order = ", ".join(quote_ident(c) for c in cols)
        out[name] = con.execute(
            f"SELECT {order} FROM {quote_ident(name)} ORDER BY {order}"
        ).fetchall()
    con.close()
    return out


@dataclass
class Day:
    day: int
    runs: int
    added_before: int
    net_after: int
    total: int
    datasets: int
    areas: dict[str, int]


def one_run(ctx: Context, clock: Clock, source: Path) -> None:
    rid = f"{clock.now:%Y%m%dt%H%M}"
    (source / "sensor").mkdir(exist_ok=True)
    rows = "".join(f"{clock.now:%Y-%m-%d %H:%M};s{j};{j * 1.5}\n" for j in range(10))
    (source / "sensor" / f"{rid}.csv").write_text("time;sensor;value\n" + rows)
    ingest_demo(ctx, run_id=f"demo-{rid}", symbols=["AAPL"], days=1, interval_minutes=15, seed=7)
    land(ctx, run_id=f"bucket-{rid}", mapping=Mapping())
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id=f"clean-{rid}")


def simulate(
    ctx: Context, clock: Clock, source: Path, *, days: int, runs_per_day: int
) -> Iterator[tuple[Day, dict[str, Any], dict[str, Any]]]:
    """Yield per simulated day: figures, and every dataset's rows before/after compaction."""
    step = timedelta(days=1) / runs_per_day
    for day in range(days):
        before = count_objects(ctx)
        areas_before = by_area(ctx)
        for _ in range(runs_per_day):
            clock.now += step
            one_run(ctx, clock, source)
        mid = count_objects(ctx)
        rows_before = dump(ctx)
        clock.now += timedelta(minutes=5)
        run_compaction(ctx, run_id=f"compact-{clock.now:%Y%m%d}")
        after = count_objects(ctx)
        areas = {k: v - areas_before.get(k, 0) for k, v in by_area(ctx).items()}
        figure = Day(
            day, runs_per_day, mid - before, after - before, after, len(rows_before), areas
        )
        yield figure, rows_before, dump(ctx)


def run_simulation(
    make_settings: SettingsFactory, tmp_path: Path, *, days: int, runs_per_day: int
) -> list[Day]:
    source = tmp_path / "source"
    source.mkdir()
    settings = make_settings(source=str(source), retention_manifests_days=1)
    clock = Clock(start_day())
    ctx = Context.from_settings(settings)
    ctx.clock = clock
    figures = []
    for figure, rows_before, rows_after in simulate(
        ctx, clock, source, days=days, runs_per_day=runs_per_day
    ):
        assert rows_after == rows_before, f"compaction changed query results on day {figure.day}"
        figures.append(figure)
    sys.stdout.write(
        f"\nobjects per simulated day, {runs_per_day} runs a day (demo + bucket ingest + clean):\n"
        + "".join(
            f"  day {f.day}: +{f.added_before} during the day, +{f.net_after} net after "
            f"compaction, {f.total} in all ({f.datasets} datasets; net by area {f.areas})\n"
            for f in figures
        )
    )
    ctx.close()
    return figures


def bound(figure: Day) -> int:
    """What a day may add once compacted: a data file, a quarantine file and a report archive
    per dataset, plus a few day archives (raw per source, manifests per job): never per run."""
    return 3 * figure.datasets + 10


@pytest.mark.timeout(900)
def test_compaction_bounds_object_growth_every_2_hours(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    figures = run_simulation(make_settings, tmp_path, days=3, runs_per_day=12)
    steady = figures[2:]  # day 0 lands the demo's history; day 1 still holds whole manifests
    for figure in steady:
        assert figure.added_before > 10 * figure.runs  # manifests, raw, files, versions, reports
        assert figure.net_after <= bound(figure), figure


@pytest.mark.slow
@pytest.mark.timeout(5400)
def test_compaction_bounds_object_growth_every_15_minutes(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    figures = run_simulation(make_settings, tmp_path, days=4, runs_per_day=96)
    for figure in figures[2:]:
        assert figure.net_after <= bound(figure), figure


def test_compaction_on_both_lakes_keeps_results_and_old_readers(
    lake_settings: SettingsFactory, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    # Each clean run adds files of its own (no small-file rewrite): the files compaction folds.
    settings = lake_settings(source=str(source), vacuum_grace_hours=6, clean_small_file_mb=0)
    clock = Clock(start_day() + timedelta(hours=13))
    ctx = Context.from_settings(settings)
    ctx.clock = clock
    for _ in range(3):
        clock.now += timedelta(hours=2)  # 15:00, 17:00, 19:00: the market is open
        one_run(ctx, clock, source)
    old = read_current(ctx.store, "quotes")
    grain = catalog.get("quotes").partition_by
    assert old is not None and len(closed_partitions(old, grain, clock.now.date())) == 0
    rows = dump(ctx)
    lineage = ("_clean_run", "_cleaned_at")
    content = dump(ctx, lineage)
    values = dump(ctx, (*lineage, "_ingest_run"))
    quarantined = {s.dataset: s.rows for s in summary(ctx.store, connect(settings))}
    clock.now += timedelta(days=1)
    manifest = run_compaction(ctx, run_id="compact-1")
    assert manifest.details["datasets"]["sensor"]["files_before"] == 3
    assert manifest.details["datasets"]["sensor"]["files_after"] == 1
    assert manifest.details["raw"]["folded"] >= 6  # demo and bucket runs of the closed day
    assert dump(ctx) == rows
    assert {s.dataset: s.rows for s in summary(ctx.store, connect(settings))} == quarantined
    # A reader that resolved the old snapshot still reads its files (vacuum grace).
    con = connect(settings)
    paths = [ctx.store.duckdb_path(f.key) for f in old.files]
    assert con.execute(f"SELECT count(*) FROM read_parquet({paths})").fetchone() == (old.rows,)
    # Raw now lives in day archives: a rebuild still reads everything.
    clock.now += timedelta(hours=1)
    rebuilt = rebuild(
        ctx, after_clean=AFTER_CLEAN, run_id="rebuild-1", datasets=["sensor", "quotes"]
    )
    assert rebuilt.datasets["sensor"].rows_written == len(rows["sensor"])
    # the same rows, cleaned again by the rebuild run
    again = dump(ctx, lineage)
    assert again["sensor"] == content["sensor"]
    # Quotes follow `latest`: a quote delivered again unchanged stays with its first delivery
    # in an incremental clean, while the rebuild, seeing every delivery at once, names the
    # newest (docs/datasets.md, "Which value wins"). Every value is the same.
    assert dump(ctx, (*lineage, "_ingest_run"))["quotes"] == values["quotes"]
    ctx.close()


def test_compaction_rewrites_into_target_sized_files(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    source = tmp_path / "source" / "wide"
    source.mkdir(parents=True)
    settings = make_settings(source=str(source.parent), compact_target_mb=1, clean_small_file_mb=0)
    clock = Clock(start_day())
    ctx = Context.from_settings(settings)
    ctx.clock = clock
    for run in range(4):
        clock.now += timedelta(hours=1)
        lines = "".join(
            f"{run}-{i},{hashlib.sha256(f'{run}/{i}'.encode()).hexdigest()}\n"
            for i in range(60_000)
        )
        (source / f"part{run}.csv").write_text("id,payload\n" + lines)
        land(ctx, run_id=f"b{run}", mapping=Mapping())
        run_clean(ctx, after_clean=AFTER_CLEAN, run_id=f"c{run}")
    before = read_current(ctx.store, "wide")
    assert before is not None and len(before.files) == 4
    clock.now += timedelta(days=1)
    run_compaction(ctx, run_id="k1")
    after = read_current(ctx.store, "wide")
    assert after is not None and after.rows == before.rows == 240_000
    sizes = [f.bytes for f in after.files]
    assert sum(sizes) > 4 * 1024**2  # ~7 MB of hashes in all
    assert len(sizes) >= 4 and max(sizes) <= 2 * 1024**2, sizes
    assert {f.partition for f in after.files} == {f.partition for f in before.files}
    ctx.close()


def _snapshot(files: list[tuple[str, str]]) -> Snapshot:
    return Snapshot(
        dataset="d",
        version=1,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        run_id="r",
        files=tuple(FileEntry(key=k, rows=1, partition=p) for k, p in files),
    )


def test_closed_partitions_need_an_ended_period_and_several_files() -> None:
    snap = _snapshot(
        [
            ("a", "2024-01-01"),
            ("b", "2024-01-01"),
            ("c", "2024-01-02"),
            ("d", "2024-01-03"),
            ("e", "2024-01-03"),
        ]
    )
    today = datetime(2024, 1, 3, tzinfo=UTC).date()
    assert list(closed_partitions(snap, "day", today)) == ["2024-01-01"]
    assert period_end("2024-12-01", "month").isoformat() == "2025-01-01"
    assert period_end("2024-01-01", "year").isoformat() == "2025-01-01"
    assert period_end("2024-10-01", "quarter").isoformat() == "2025-01-01"
    assert period_end("2024-04-01", "quarter").isoformat() == "2024-07-01"
    # A month or day folder written before the dataset moved to quarters belongs to its quarter.
    assert [period_start(p, "quarter") for p in ("2024-03-31", "2024-05-01", "2024-12-01")] == [
        "2024-01-01",
        "2024-04-01",
        "2024-10-01",
    ]


def test_open_partitions_are_compacted_only_once_they_hold_many_files() -> None:
    many = [(f"m{i}", "2024-01-01") for i in range(OPEN_PARTITION_FILES + 1)]
    few = [(f"f{i}", "2023-01-01") for i in range(OPEN_PARTITION_FILES + 1)]
    snap = _snapshot([*many, *few, ("x", "2024-02-01"), ("y", "2024-02-01")])
    today = datetime(2024, 2, 15, tzinfo=UTC).date()
    # The year 2024 is open and over the limit; 2023 is closed (that is `closed_partitions`).
    assert list(open_partitions(snap, "year", today)) == ["2024-01-01"]
    # By month, January is closed and February holds two files: nothing open to rewrite.
    assert open_partitions(snap, "month", today) == {}


def test_an_open_partition_with_a_backfills_big_file_is_compacted() -> None:
    today = datetime(2024, 2, 15, tzinfo=UTC).date()
    big = FileEntry(key="clean/q/dt=2024-01-01/r-v1-0.parquet", rows=CLEAN_ROW_GROUP + 1)
    small = FileEntry(key="clean/q/dt=2024-01-01/r-v2-0.parquet", rows=500)
    done = FileEntry(key="clean/q/dt=2024-01-01/compact-c3-0.parquet", rows=CLEAN_ROW_GROUP * 8)
    for files, rewritten in (([big], True), ([done, small], False), ([done, small, big], True)):
        snap = _snapshot([]).model_copy(
            update={"files": tuple(f.model_copy(update={"partition": "2024-01-01"}) for f in files)}
        )
        assert bool(open_partitions(snap, "quarter", today)) is rewritten, files


def test_files_of_a_finer_grain_move_into_their_closed_period() -> None:
    # Day folders left from before a dataset moved to month partitions: a closed month's
    # files go into one month partition, even a lone file; an aligned lone file stays.
    snap = _snapshot([("a", "2024-01-05"), ("b", "2024-02-01"), ("c", "2024-03-07")])
    today = datetime(2024, 4, 2, tzinfo=UTC).date()
    assert {
        p: [f.key for f in fs] for p, fs in closed_partitions(snap, "month", today).items()
    } == {
        "2024-01-01": ["a"],
        "2024-03-01": ["c"],
    }
    assert [f.key for f in snap.files_for(partitions=["2024-03-01"], grain="month")] == ["c"]
    assert snap.files_for(partitions=["2024-03-01"]) == []


def test_a_closed_partition_is_rewritten_until_it_is_in_compactions_layout() -> None:
    today = datetime(2024, 4, 2, tzinfo=UTC).date()

    def entry(key: str, rows: int) -> FileEntry:
        return FileEntry(
            key=f"clean/d/dt=2024-01-01/{key}.parquet", rows=rows, partition="2024-01-01"
        )

    def closed(*files: FileEntry) -> bool:
        snap = Snapshot(
            dataset="d",
            version=1,
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
            run_id="r",
            files=files,
        )
        return bool(closed_partitions(snap, "month", today))

    big = CLEAN_ROW_GROUP + 1
    assert closed(entry("clean-1-v3-ab12cd-0", big))  # one big file in clean's row groups
    assert not closed(entry("clean-1-v3-ab12cd-0", CLEAN_ROW_GROUP))  # one row group anyway
    assert closed(entry("clean-1-v3-ab12cd-0", 10), entry("clean-2-v4-ef34ab-0", 10))
    # Compaction's own output stays, also a large partition split into several files.
    assert not closed(entry("k1-c5-0", big), entry("k1-c5-1", big))
    # A late clean file beside them brings the partition back.
    assert closed(entry("k1-c5-0", big), entry("late-v6-0a1b2c-0", 10))
