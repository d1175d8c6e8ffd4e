"""Derived datasets, rebuilt after each clean run: daily bars and their technical indicators.

`daily_bars` takes a symbol's day from its daily candle when there is one (paid keys), else
builds it from the day's quote snapshots (free keys); only the symbol-days with quotes or
candles committed since the last derivation are recomputed, plus provisional bars of days now
over. `daily_indicators` then recomputes the whole history of every symbol whose bars
changed, since indicators depend on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
from pydantic import BaseModel

from bucketpipe import catalog
from bucketpipe.catalog import indicators
from bucketpipe.catalog.datasets.bars import MARKET_TZ
from bucketpipe.catalog.spec import DatasetSpec
from bucketpipe.clean.derived_sql import (
    BAR_KEYS,
    CANDLE_COLUMNS,
    QUOTE_COLUMNS,
    bars_sql,
    grain_partitions,
    indicator_rows_sql,
    parquet_sql,
    touched_sql,
)
from bucketpipe.clean.engine import MergeOutcome, Target, count, merge_rows
from bucketpipe.clean.plan import ATTEMPTS
from bucketpipe.config.errors import CommitConflict, ObjectNotFound
from bucketpipe.context import Context
from bucketpipe.lake.commits import Basis, VersionTaken
from bucketpipe.lake.duck import quote_literal
from bucketpipe.lake.layout import state_key
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.lake.snapshots import FileEntry, Snapshot, read_current, read_version
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

# Declared in `bucketpipe.catalog.datasets.bars`; looked up in the catalog when needed (the datasets
# package imports this module to register the hook).
BARS = "daily_bars"
INDICATORS = "daily_indicators"

# Where provisional bars are looked for: a bar stays provisional only until the first clean
# run after its day, so recent partitions are enough.
PROVISIONAL_LOOKBACK = timedelta(days=10)
# Where lakes from before the versions' own records kept the progress (read, never written).
PROGRESS = state_key("derived", "progress.json")


def _paths(store: ObjectStore, files: Sequence[FileEntry]) -> list[str]:
    return [store.duckdb_path(f.key) for f in files]


class Progress(BaseModel):
    """The snapshot versions of the inputs a derived dataset was last computed from.

    Files committed since then are what a run must look at, whichever run committed them (a
    clean run that died after its catalog commits is caught up by the next one). Each
    derived version records its own (`details.sources`), so a writer that lost a race plans
    again from what the winner recorded.
    """

    quotes: int | None = None
    candles: int | None = None
    daily_bars: int | None = None


SOURCES = "sources"


def read_progress(store: ObjectStore, snapshot: Snapshot | None) -> Progress:
    """What a derived dataset's newest version was computed from: its own record, else (a
    lake from before such records) the progress document once kept in `_state/`."""
    if snapshot is None:
        return Progress()
    recorded = snapshot.details.get(SOURCES)
    if isinstance(recorded, dict):
        return Progress.model_validate(recorded)
    try:
        return Progress.model_validate_json(store.get(PROGRESS))
    except (ObjectNotFound, ValueError):
        return Progress()


def new_files(store: ObjectStore, snapshot: Snapshot | None, seen: int | None) -> list[FileEntry]:
    """Files of `snapshot` that version `seen` did not have (all of them when unknown)."""
    if snapshot is None or snapshot.version == seen:
        return []
    if seen is None:
        return list(snapshot.files)
    try:
        before = set(read_version(store, snapshot.dataset, seen).keys)
    except (ObjectNotFound, ValueError):
        return list(snapshot.files)
    return [f for f in snapshot.files if f.key not in before]


def changed_rows(
    store: ObjectStore,
    snapshot: Snapshot | None,
    seen: int | None,
    files: Sequence[FileEntry],
    columns: Sequence[tuple[str, str]],
) -> str:
    """SQL of the rows of `files` (new since version `seen`) that a run after `seen` wrote.

    A new file also holds rows copied from files it replaced: a commit rewrites the small
    files of the partitions it writes, a compaction rewrites a partition. Those keep the
    `_clean_run` of the run that wrote them, so only rows of the runs that committed the
    versions since `seen` (or rows without the column, from before it) are changes."""
    rows = parquet_sql(_paths(store, files), columns)
    if not files or snapshot is None or seen is None or "_clean_run" not in dict(snapshot.columns):
        return rows
    runs = []
    for version in range(seen + 1, snapshot.version + 1):
        try:
            runs.append(read_version(store, snapshot.dataset, version).run_id)
        except (ObjectNotFound, ValueError):
            return rows  # a version vacuumed: every row of the new files counts
    listed = ", ".join(quote_literal(r) for r in runs if r)
    return f"SELECT * FROM ({rows}) WHERE _clean_run IS NULL OR _clean_run IN ({listed or 'NULL'})"


def _files(snapshot: Snapshot | None, days: Iterable[date]) -> list[FileEntry]:
    """Files that may hold rows of `days`: those of the days' partitions whose time range
    meets the days' span (with a day's margin each side), so a recomputed day reads its week
    of a quarter partition, not the whole quarter."""
    days = sorted(set(days))
    if snapshot is None or not days:
        return []
    spec = catalog.get(snapshot.dataset)
    return snapshot.files_for(
        partitions=grain_partitions(days, spec.partition_by),
        grain=spec.partition_by,
        start=_midnight(days[0] - timedelta(days=1)),
        end=_midnight(days[-1] + timedelta(days=2)),
    )


def _all_new(snapshot: Snapshot | None, fresh: Sequence[FileEntry], seen: int | None) -> bool:
    """Are all of the dataset's committed rows new: none derived from before (`seen` None),
    or a rebuild since (none when it has no rows)? Every file being new is not enough: a
    commit rewrites the small files of the partitions it writes, rows it did not change."""
    if snapshot is None:
        return not fresh
    first = seen is None or snapshot.operation == "rebuild"
    return first and len(fresh) == len(snapshot.files)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def update_bars(
    con: duckdb.DuckDBPyConnection, ctx: Context, run_id: str, scratch: Any
) -> MergeOutcome | None:
    """Recompute the bars of the symbol-days with quotes or candles committed since the bars'
    newest version was computed (and provisional bars of days now over), and merge them,
    recording the input versions used."""
    store, now = ctx.store, ctx.now()
    today = market_day(now)
    quotes = read_current(store, "quotes")
    candles = read_current(store, "candles")
    bars = read_current(store, BARS)
    seen = read_progress(store, bars)
    fresh_quotes = new_files(store, quotes, seen.quotes)
    fresh_candles = new_files(store, candles, seen.candles)
    touched: str | None = None
    if _all_new(quotes, fresh_quotes, seen.quotes) and _all_new(
        candles, fresh_candles, seen.candles
    ):
        # The first clean, or a rebuild: every committed row is new, so every symbol-day's bar
        # is computed, with no pass over the files to find the days they touch (a provisional
        # bar of a day with no rows has nothing to be computed from either way).
        quote_files, candle_files = fresh_quotes, fresh_candles
    else:
        provisional = bars.files_for(start=now - PROVISIONAL_LOOKBACK) if bars else []
        con.execute(
            "CREATE OR REPLACE TABLE _bars_touched AS "
            + touched_sql(
                changed_rows(store, quotes, seen.quotes, fresh_quotes, QUOTE_COLUMNS),
                changed_rows(store, candles, seen.candles, fresh_candles, CANDLE_COLUMNS),
                parquet_sql(_paths(store, provisional), BAR_KEYS),
                today=today,
            )
        )
        days = [r[0] for r in con.execute("SELECT DISTINCT day FROM _bars_touched").fetchall()]
        if not days:
            return None
        # A New York trading day ends after midnight UTC: its quotes may sit in the next day.
        quote_files = _files(quotes, [*days, *(d + timedelta(days=1) for d in days)])
        candle_files = _files(candles, days)
        touched = "SELECT * FROM _bars_touched"
    con.execute(
        "CREATE OR REPLACE TABLE _bars_new AS "
        + bars_sql(
            parquet_sql(_paths(store, quote_files), QUOTE_COLUMNS),
            parquet_sql(_paths(store, candle_files), CANDLE_COLUMNS),
            touched,
            today=today,
            now=now.isoformat(),
            run_id=run_id,
        )
    )
    if touched is None and count(con, "SELECT 1 FROM _bars_new") == 0:
        return None
    sources = Progress(
        quotes=quotes.version if quotes else None,
        candles=candles.version if candles else None,
    )
    return merge_rows(
        con,
        store,
        target_of(catalog.get(BARS)),
        rows_table="_bars_new",
        run_id=run_id,
        scratch=scratch,
        now=now,
        basis=Basis(bars),
        details={SOURCES: sources.model_dump(exclude_none=True)},
        small_file_bytes=ctx.settings.clean_small_file_bytes,
    )


def update_indicators(
    con: duckdb.DuckDBPyConnection, ctx: Context, run_id: str, scratch: Any
) -> MergeOutcome | None:
    """Recompute the indicators of every symbol with bars committed since the indicators'
    newest version was computed, over the symbol's whole history, and merge them."""
    store, now = ctx.store, ctx.now()
    bars = read_current(store, BARS)
    if bars is None or not bars.files:
        return None
    current = read_current(store, INDICATORS)
    seen = read_progress(store, current).daily_bars if current is not None else None
    changed = new_files(store, bars, seen)
    if not changed:
        return None
    con.execute(
        "CREATE OR REPLACE TABLE _ind_symbols AS SELECT DISTINCT symbol FROM "
        f"({changed_rows(store, bars, seen, changed, BAR_KEYS)})"
    )
    history = con.execute(
        "SELECT symbol, day, open, high, low, close FROM "
        f"({parquet_sql(_paths(store, bars.files), BAR_KEYS)}) "
        "SEMI JOIN _ind_symbols USING (symbol)"
    ).df()
    con.register("_ind_frame", indicators.per_symbol(history))
    try:
        rows = indicator_rows_sql("_ind_frame", now=now.isoformat(), run_id=run_id)
        con.execute(f"CREATE OR REPLACE TABLE _ind_new AS {rows}")
    finally:
        con.unregister("_ind_frame")
    return merge_rows(
        con,
        store,
        target_of(catalog.get(INDICATORS)),
        rows_table="_ind_new",
        run_id=run_id,
        scratch=scratch,
        now=now,
        basis=Basis(current),
        details={SOURCES: {"daily_bars": bars.version}},
        small_file_bytes=ctx.settings.clean_small_file_bytes,
    )


def target_of(spec: DatasetSpec) -> Target:
    """How a derived dataset's rows are merged, from its declaration."""
    return Target(
        spec.name,
        spec.primary_key,
        spec.time_column,
        spec.on_conflict,
        partition_by=spec.partition_by,
        cluster_by=spec.cluster_by,
    )


def derive(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    run_id: str,
    results: dict[str, DatasetResult],
    scratch: Any,
) -> dict[str, DatasetResult]:
    """The clean hook: update daily bars, then the indicators of the symbols they changed.

    Each computes from what its newest version records, so a failure later on is caught up
    next run, and a commit that lost a race is computed again on the winner's version.
    """
    out: dict[str, DatasetResult] = {}
    for name, update in ((BARS, update_bars), (INDICATORS, update_indicators)):
        started = time.monotonic()
        for _ in range(ATTEMPTS):
            try:
                outcome = update(con, ctx, run_id, scratch)
                break
            except VersionTaken:
                log.info(
                    "derived dataset committed by another writer; again", extra={"dataset": name}
                )
        else:
            raise CommitConflict(f"{name}: other writers kept committing first; rerun")
        if outcome is not None:
            out[name] = outcome.result()
            _log(name, run_id, outcome, started)
    return out


def _log(dataset: str, run_id: str, outcome: MergeOutcome, started: float) -> None:
    log.info(
        "dataset derived",
        extra={
            "dataset": dataset,
            "run_id": run_id,
            "rows": outcome.rows_written,
            "replaced": outcome.rows_replaced,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )


def market_day(moment: datetime) -> str:
    """The market's date at `moment` (bars of earlier days are final)."""
    return moment.astimezone(ZoneInfo(MARKET_TZ)).date().isoformat()
