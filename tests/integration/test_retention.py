"""Retention: raw, quarantine, reports and manifests expire; data and bookkeeping stay right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.clean.job import find_pending, processed_inputs, rebuild, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.bucket.mapping import Mapping
from bucketpipe.ingest.bucket.source import land
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.duck import connect
from bucketpipe.maintain.compaction import run_compaction
from bucketpipe.quality.report import read_daily, read_reports
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration

MONDAY = datetime(2031, 3, 3, tzinfo=UTC)  # far ahead: real file times look old


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def areas(ctx: Context) -> dict[str, int]:
    out: dict[str, int] = {}
    for info in ctx.store.list_objects(""):
        key = "/".join(info.key.split("/")[:2])
        out[key] = out.get(key, 0) + 1
    return out


def rows(settings: Settings, ctx: Context, dataset: str) -> list[tuple[Any, ...]]:
    """The dataset's rows without the lineage a rebuild rewrites."""
    con = connect(settings)
    LakeReader(ctx.store).register_views(con, [dataset])
    names = [r[0] for r in con.execute(f"DESCRIBE {dataset}").fetchall()]
    cols = ", ".join(f'"{n}"' for n in names if n not in ("_clean_run", "_cleaned_at"))
    return con.execute(f"SELECT {cols} FROM {dataset} ORDER BY ALL").fetchall()


def drop(source: Path, name: str, text: str) -> None:
    (source / "sensor").mkdir(parents=True, exist_ok=True)
    (source / "sensor" / name).write_text(text)


def test_retention_expires_old_objects_and_keeps_cleaning_exact(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    clock = Clock(MONDAY + timedelta(hours=15))
    settings = make_settings(source=str(source))
    ctx = Context.from_settings(settings)
    ctx.clock = clock
    # Day 0 and day 1: ingest and clean; day 1 also lands a run clean never sees.
    ingest_demo(ctx, run_id="demo-0", symbols=["AAPL"], days=1, interval_minutes=60, seed=7)
    lines = "".join(f"2031-03-03 {h:02d}:00;{h}\n" for h in range(10))
    drop(source, "a.csv", "time;value\n" + lines + "2031-03-03 11:00;x\n")
    land(ctx, run_id="bucket-0", mapping=Mapping())
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-0")
    clock.now += timedelta(days=1)
    drop(source, "b.csv", "time;value\n2031-03-04 10:00;2\n")
    land(ctx, run_id="bucket-1", mapping=Mapping())
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    clock.now += timedelta(hours=1)
    drop(source, "c.csv", "time;value\n2031-03-04 12:00;3\n")
    land(ctx, run_id="bucket-late", mapping=Mapping())  # not cleaned yet
    sensor = rows(settings, ctx, "sensor")
    quotes = rows(settings, ctx, "quotes")
    reports_before = len(read_reports(ctx.store, "sensor"))

    # Day 3, short retention: everything of days 0 and 1 is past it.
    short = make_settings(
        source=str(source),
        retention_raw_days=1,
        retention_quarantine_days=1,
        retention_reports_days=1,
        retention_manifests_days=1,
    )
    ctx = Context.from_settings(short)
    clock.now = MONDAY + timedelta(days=3, minutes=5)
    ctx.clock = clock
    before = areas(ctx)
    manifest = run_compaction(ctx, run_id="compact-3")
    after = areas(ctx)
    retention = manifest.details["retention"]
    assert retention["manifests_folded"] == {"clean": 2, "ingest": 3}  # bucket-late stays whole
    assert retention["quarantine_objects_deleted"] >= 1
    assert retention["report_archives_summarised"] == 2
    assert after.get("quarantine/sensor", 0) == 0 < before["quarantine/sensor"]
    assert after.get("raw/demo", 0) == 0 and before["raw/demo"] == 1
    # day 1 still holds the raw object of a run clean has not consumed: the day stays whole
    assert [i.key for i in ctx.store.list_objects("raw/bucket/")] == [
        "raw/bucket/dt=2031-03-04/_archive.jsonl.gz",
        "raw/bucket/dt=2031-03-04/bucket-late.jsonl.gz",
    ]
    assert after["_runs/ingest"] == 3  # bucket-late whole + archives of days 0 and 1
    assert after["_runs/clean"] == 2  # archives of days 0 and 1
    daily = {(r["dataset"], r["day"]): r for r in read_daily(ctx.store)}
    assert daily[("sensor", "2031-03-03")]["runs"] == 1
    assert daily[("sensor", "2031-03-04")]["runs"] == 1
    assert read_reports(ctx.store, "sensor") == [] < [reports_before]
    # The data itself is untouched by retention.
    assert rows(short, ctx, "sensor") == sensor and rows(short, ctx, "quotes") == quotes

    # Bookkeeping stays exact: only the late run is pending, and it is cleaned once.
    assert {"bucket-0", "bucket-1", "demo-0"} <= processed_inputs(ctx)
    assert [m.input_id for m in find_pending(ctx)] == ["bucket-late"]
    cleaned = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-3")
    assert cleaned is not None and cleaned.inputs == ["bucket-late"]
    assert run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-4") is None
    current = rows(short, ctx, "sensor")
    assert len(current) == len(sensor) + 1

    # A rebuild keeps the rows whose raw retention deleted, and re-cleans the rest.
    clock.now += timedelta(hours=1)
    rebuilt = rebuild(
        ctx, after_clean=AFTER_CLEAN, run_id="rebuild-3", datasets=["sensor", "quotes"]
    )
    assert rebuilt.status == "succeeded"
    assert rebuilt.datasets["sensor"].rows_written == len(current)
    assert rows(short, ctx, "sensor") == current
    # the demo run's raw and manifest are gone: its quotes are carried over as committed
    assert rebuilt.datasets["quotes"].rows_written == len(quotes)
    assert rows(short, ctx, "quotes") == quotes
    ctx.close()
