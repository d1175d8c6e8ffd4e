"""Generated history: symbols x days x 15-minute quote snapshots, landed raw and cleaned.

Each trading day is landed as one demo ingest run (its quote snapshots and the day's
profiles, written by `rawlines` in parallel processes): one raw object and manifest committed
through `commit_ingest`. The real clean job then turns the whole history into Parquet.
"""

from __future__ import annotations

import gzip
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.rawlines import HISTORY_ENDPOINTS, day_chunks
from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import DEFAULT_SYMBOLS
from bucketpipe.context import Context
from bucketpipe.ingest.demo.generate import MARKET_CLOSE, SOURCE, DemoConfig, trading_days
from bucketpipe.ingest.run import commit_ingest
from bucketpipe.lake.raw import RawRecord, RawWriter
from bucketpipe.lake.runs import RunManifest
from bucketpipe.lake.storage import scratch_dir
from bucketpipe.maintain.compaction import run_compaction
from bucketpipe.wiring import AFTER_CLEAN

log = logging.getLogger(__name__)

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def tickers(count: int) -> list[str]:
    """`count` symbols: the default seven first, then stable invented four-letter tickers."""
    names = list(DEFAULT_SYMBOLS[:count])
    index = 0
    while len(names) < count:
        n, letters = index, []
        for _ in range(4):
            n, digit = divmod(n, 26)
            letters.append(_LETTERS[digit])
        name = "X" + "".join(reversed(letters))[1:]
        if name not in names:
            names.append(name)
        index += 7  # spread the names out a little
    return names


@dataclass(frozen=True)
class HistorySpec:
    """`days` calendar days ending on `end` (inclusive), `symbols` symbols, snapshots every
    `interval_minutes` of the trading day."""

    symbols: int
    days: int
    end: date
    interval_minutes: int = 15
    seed: int = 7
    defects: bool = True

    @property
    def symbol_names(self) -> list[str]:
        return tickers(self.symbols)

    @property
    def trading_days(self) -> list[date]:
        return trading_days(self.end, self.days)

    @property
    def label(self) -> str:
        return f"{self.days}d x {self.symbols} symbols"


def last_trading_day(today: date) -> date:
    """The newest weekday strictly before `today` (a complete trading day)."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def fixed_clock(at: datetime) -> Callable[[], datetime]:
    """A clock that always says `at` (the context's injectable clock)."""

    def now() -> datetime:
        return at

    return now


def day_run_id(day: date) -> str:
    return f"hist-{day:%Y%m%d}"


def day_close(day: date) -> datetime:
    return datetime.combine(day, MARKET_CLOSE, UTC)


def day_config(spec: HistorySpec, day: date, symbols: Sequence[str] | None = None) -> DemoConfig:
    """The demo run that lands one trading day: its quote snapshots and the day's profiles."""
    return DemoConfig(
        symbols=list(symbols if symbols is not None else spec.symbol_names),
        days=1,
        interval_minutes=spec.interval_minutes,
        seed=spec.seed,
        end=day_close(day),
        defects=spec.defects,
        endpoints=HISTORY_ENDPOINTS,
    )


@dataclass(frozen=True)
class RawFile:
    """A raw object written to local disk, ready to be committed."""

    path: str
    day: date
    count: int
    by_endpoint: dict[str, int]
    bytes: int


def write_day(spec: HistorySpec, day: date, directory: str) -> RawFile:
    """Write one trading day's raw object (gzip JSON lines) under `directory`."""
    run = day_run_id(day)
    path = Path(directory) / f"{run}.jsonl.gz"
    count = 0
    by_endpoint: dict[str, int] = {}
    with gzip.open(path, "wb", compresslevel=6) as fh:
        for endpoint, chunk in day_chunks(day_config(spec, day), run):
            fh.write(chunk)
            lines = chunk.count(b"\n")
            by_endpoint[endpoint] = by_endpoint.get(endpoint, 0) + lines
            count += lines
    return RawFile(str(path), day, count, by_endpoint, path.stat().st_size)


class LandedRaw(RawWriter):
    """A raw object another process already wrote, committed like any ingest run's."""

    def __init__(self, raw: RawFile) -> None:  # the file exists: no temp file to open
        self.path = Path(raw.path)
        self.count = raw.count
        self.by_endpoint = dict(raw.by_endpoint)

    def write(self, record: RawRecord) -> None:
        raise TypeError("a landed raw object is complete")

    def close(self) -> None:
        return None


@dataclass
class Landed:
    """What landing a history did."""

    runs: int = 0
    records: int = 0
    quote_records: int = 0
    raw_bytes: int = 0
    seconds: float = 0.0
    manifests: list[RunManifest] = field(default_factory=list, repr=False)


def workers_for(cpus: int | None = None) -> int:
    return max(1, min(cpus or os.cpu_count() or 1, 8))


def land_history(ctx: Context, spec: HistorySpec, *, workers: int | None = None) -> Landed:
    """Land every trading day of the history as one committed demo ingest run."""
    started = time.perf_counter()
    scratch = scratch_dir(ctx.settings.temp_dir)
    days = spec.trading_days
    landed = Landed()
    pool_size = min(workers_for(workers), max(1, len(days)))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=pool_size, mp_context=context) as pool:
        futures = [pool.submit(write_day, spec, day, str(scratch)) for day in days]
        for future in futures:
            raw = future.result()
            close = day_close(raw.day)
            ctx.clock = fixed_clock(close + timedelta(seconds=5))
            manifest = commit_ingest(
                ctx,
                source=SOURCE,
                run_id=day_run_id(raw.day),
                writer=LandedRaw(raw),
                started_at=close,
                details={"symbols": spec.symbols, "days": 1, "generated_by": "bench"},
            )
            landed.runs += 1
            landed.records += raw.count
            landed.quote_records += raw.by_endpoint.get("quote", 0)
            landed.raw_bytes += raw.bytes
            landed.manifests.append(manifest)
    scratch.rmdir()
    landed.seconds = time.perf_counter() - started
    return landed


@dataclass(frozen=True)
class BuiltLake:
    """A lake holding a cleaned history."""

    spec: HistorySpec
    url: str
    records: int
    quote_records: int
    raw_bytes: int
    land_seconds: float
    clean_seconds: float
    compact_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "history": self.spec.label,
            "symbols": self.spec.symbols,
            "days": self.spec.days,
            "trading_days": len(self.spec.trading_days),
            "raw_records": self.records,
            "quote_records": self.quote_records,
            "raw_mib": round(self.raw_bytes / 1024**2, 1),
            "land_s": round(self.land_seconds, 2),
            "clean_s": round(self.clean_seconds, 2),
            "compact_s": round(self.compact_seconds, 2),
        }


def build_lake(ctx: Context, spec: HistorySpec, *, workers: int | None = None) -> BuiltLake:
    """Land the history raw, run the clean job once over every pending run, then the daily
    compaction, so the lake has the layout a lake cleaned every 15 minutes settles into."""
    landed = land_history(ctx, spec, workers=workers)
    finish = day_close(spec.end) + timedelta(minutes=10)
    ctx.clock = fixed_clock(finish)
    started = time.perf_counter()
    manifest = run_clean(ctx, after_clean=AFTER_CLEAN, run_id=f"hist-clean-{spec.end:%Y%m%d}")
    clean_seconds = time.perf_counter() - started
    if manifest is None or manifest.status != "succeeded":
        status = "nothing to clean" if manifest is None else manifest.status
        raise RuntimeError(f"cleaning the generated history failed: {status}")
    # Compaction runs as of a moment past the vacuum grace of every file just written (they
    # carry real modification times), so what it replaced is deleted as in production.
    grace = timedelta(hours=ctx.settings.vacuum_grace_hours, minutes=30)
    compact_at = max(finish + timedelta(days=1), datetime.now(UTC)) + grace
    ctx.clock = fixed_clock(compact_at)
    started = time.perf_counter()
    run_compaction(ctx, run_id=f"hist-compact-{spec.end:%Y%m%d}")
    compact_seconds = time.perf_counter() - started
    log.info(
        "history built",
        extra={
            "history": spec.label,
            "records": landed.records,
            "land_s": round(landed.seconds, 1),
            "clean_s": round(clean_seconds, 1),
            "compact_s": round(compact_seconds, 1),
        },
    )
    return BuiltLake(
        spec=spec,
        url=ctx.store.url,
        records=landed.records,
        quote_records=landed.quote_records,
        raw_bytes=landed.raw_bytes,
        land_seconds=landed.seconds,
        clean_seconds=clean_seconds,
        compact_seconds=compact_seconds,
    )


def symbols_for(records: int, days: int, end: date, interval_minutes: int = 15) -> int:
    """Symbols needed for about `records` quote snapshots over `days` days ending on `end`."""
    per_symbol = len(trading_days(end, days)) * (390 // interval_minutes + 1)
    return max(1, math.ceil(records / per_symbol))
