"""Objects per day at a 15-minute schedule, before and after the daily compaction.

Simulated days of CronJob runs on a local lake, with the context's injectable clock: every
`interval_minutes` a demo ingest run (the day so far, every endpoint) and a clean run, then
shortly after midnight `run_compaction`. The lake is counted per area after the day's runs and
after its compaction. Simulated days lie in the future of the files' real modification times,
so the vacuum grace period has passed when compaction runs, as it has at the next midnight in
production.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.history import fixed_clock
from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.delta_log import is_log_key
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.maintain.compaction import run_compaction
from bucketpipe.wiring import AFTER_CLEAN

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """`days` simulated days of runs every `interval_minutes`, `runs_per_day` of them a day."""

    days: int
    runs_per_day: int
    interval_minutes: int = 15
    symbols: tuple[str, ...] = ("AAPL", "GOOGL", "MSFT", "TSLA", "AMZN", "NVDA", "META")
    first_run: timedelta = timedelta(0)  # offset of the first run from midnight
    # Days run manifests are kept whole (None: the setting's default, 30). With 1, the days
    # after the first show the steady state a lake reaches once it is older than the window.
    manifest_retention_days: int | None = None

    @property
    def full_day(self) -> bool:
        return self.runs_per_day * self.interval_minutes >= 24 * 60


def cron_run_id(job: str, at: datetime) -> str:
    """A CronJob's Job name: `<cronjob>-<minutes since the epoch of the scheduled time>`."""
    return f"{job}-{int(at.timestamp()) // 60}"


def first_monday_after(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() != 0:
        day += timedelta(days=1)
    return day


def count_areas(store: ObjectStore) -> Counter[str]:
    """Objects per top-level area of the lake; the Delta logs inside `clean/` on their own."""
    counts: Counter[str] = Counter()
    for info in store.list_objects(""):
        counts["delta_log" if is_log_key(info.key) else info.key.split("/", 1)[0]] += 1
    return counts


def _diff(after: Counter[str], before: Counter[str]) -> dict[str, int]:
    areas = sorted(set(after) | set(before))
    return {
        a: after.get(a, 0) - before.get(a, 0) for a in areas if after.get(a, 0) != before.get(a, 0)
    }


def simulate(base: Settings, work: Path, schedule: Schedule, *, today: date) -> dict[str, Any]:
    """Run the schedule and count objects; the lake lives under `work/objects-lake`."""
    update: dict[str, Any] = {"lake": str(work / "objects-lake"), "redis_url": None}
    if schedule.manifest_retention_days is not None:
        update["retention_manifests_days"] = schedule.manifest_retention_days
    settings = base.model_copy(update=update)
    ctx = Context.from_settings(settings)
    start_day = first_monday_after(today)
    per_day: list[dict[str, Any]] = []
    started = time.perf_counter()
    run_seconds: list[float] = []
    try:
        counts = count_areas(ctx.store)
        after_previous_compaction = counts
        for d in range(schedule.days):
            midnight = datetime.combine(start_day + timedelta(days=d), datetime.min.time(), UTC)
            for k in range(schedule.runs_per_day):
                at = (
                    midnight + schedule.first_run + timedelta(minutes=k * schedule.interval_minutes)
                )
                t0 = time.perf_counter()
                _one_run(ctx, at, schedule.symbols)
                run_seconds.append(time.perf_counter() - t0)
            after_runs = count_areas(ctx.store)
            compact_at = midnight + timedelta(days=1, minutes=30)
            ctx.clock = fixed_clock(compact_at)
            run_compaction(ctx, run_id=cron_run_id("compact", compact_at))
            after_compaction = count_areas(ctx.store)
            added = _diff(after_runs, after_previous_compaction)
            net = _diff(after_compaction, after_previous_compaction)
            per_day.append(
                {
                    "day": (start_day + timedelta(days=d)).isoformat(),
                    "runs": schedule.runs_per_day,
                    "added_by_runs": sum(added.values()),
                    "added_by_runs_per_area": added,
                    "net_after_compaction": sum(net.values()),
                    "net_after_compaction_per_area": net,
                    "objects_total": sum(after_compaction.values()),
                }
            )
            after_previous_compaction = after_compaction
            log.info("simulated day", extra=per_day[-1])
    finally:
        ctx.close()
    return _summary(schedule, per_day, run_seconds, time.perf_counter() - started)


def _one_run(ctx: Context, at: datetime, symbols: Sequence[str]) -> None:
    ctx.clock = fixed_clock(at)
    ingest_demo(
        ctx,
        run_id=cron_run_id("ingest-demo", at),
        symbols=list(symbols),
        days=1,
        interval_minutes=15,
        seed=7,
    )
    done = at + timedelta(minutes=2)
    ctx.clock = fixed_clock(done)
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id=cron_run_id("clean", at))


def _summary(
    schedule: Schedule, per_day: list[dict[str, Any]], run_seconds: list[float], seconds: float
) -> dict[str, Any]:
    scale = (24 * 60) / (schedule.runs_per_day * schedule.interval_minutes)
    # The first day also creates what every lake has once (snapshot folders, state, caches):
    # the steady state is the days after it when there are any.
    steady = per_day[1:] or per_day
    before = sum(d["added_by_runs"] for d in steady) / len(steady)
    after = sum(d["net_after_compaction"] for d in steady) / len(steady)
    return {
        "days": schedule.days,
        "runs_per_day": schedule.runs_per_day,
        "interval_minutes": schedule.interval_minutes,
        "symbols": len(schedule.symbols),
        "full_day": schedule.full_day,
        "manifest_retention_days": schedule.manifest_retention_days,
        "extrapolation": round(scale, 3),
        "objects_per_day_before_compaction": round(before * scale, 1),
        # Not scaled: most of what stays is one object per dataset and day whatever the runs.
        "objects_per_day_after_compaction": round(after, 1),
        "steady_state_days": len(steady),
        "run_median_s": round(sorted(run_seconds)[len(run_seconds) // 2], 3)
        if run_seconds
        else None,
        "seconds": round(seconds, 1),
        "per_day": per_day,
    }
