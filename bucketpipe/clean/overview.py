"""The `market_overview` dataset: the market page's answer kept in one small file by clean.

Computing the overview (each symbol's newest quote, its sparkline, name and volume) reads a
window of quotes, the profiles and the bars; the page is the dashboard's default and is
loaded by every visitor. Clean computes it once, after the datasets it depends on changed,
with the same query the page would run (`catalog.overview`), and commits it with the versions
it was computed from; a reader uses it only while those versions are current
(`views.is_current`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import duckdb

from bucketpipe import catalog
from bucketpipe.catalog.datasets.bars import MARKET_OVERVIEW
from bucketpipe.catalog.overview import OVERVIEW, compute_latest_quotes
from bucketpipe.clean.derived import target_of
from bucketpipe.clean.derived_sql import frame_rows_sql
from bucketpipe.clean.engine import merge_rows
from bucketpipe.clean.plan import ATTEMPTS
from bucketpipe.config.errors import CommitConflict
from bucketpipe.context import Context
from bucketpipe.lake.commits import Basis, VersionTaken
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.lake.snapshots import read_current
from bucketpipe.lake.views import create_views, drop_views

log = logging.getLogger(__name__)


def update_overview(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    run_id: str,
    results: dict[str, DatasetResult],
    scratch: Any,
) -> dict[str, DatasetResult]:
    """The clean hook: recompute the overview when the rows of any of its inputs changed.

    Compared with the versions the committed overview records, not with this run's results,
    so a run that failed before this step is caught up by the next one; computed again when
    another writer committed an overview first.
    """
    for _ in range(ATTEMPTS):
        try:
            return _update(con, ctx, run_id, scratch)
        except VersionTaken:
            log.info("overview committed by another writer; again", extra={"run_id": run_id})
    raise CommitConflict(f"{OVERVIEW}: other writers kept committing first; rerun")


def _update(
    con: duckdb.DuckDBPyConnection, ctx: Context, run_id: str, scratch: Any
) -> dict[str, DatasetResult]:
    store = ctx.store
    sources = {name: read_current(store, name) for name in MARKET_OVERVIEW.derived_from}
    versions = {name: snap.content_version if snap else None for name, snap in sources.items()}
    current = read_current(store, OVERVIEW)
    if sources["quotes"] is None or (
        current is not None and current.details.get("inputs") == versions
    ):
        return {}
    started = time.monotonic()
    for name, snap in sources.items():
        if snap is not None:
            create_views(con, store, name, snap, catalog.get(name).time_column)
    try:
        latest = compute_latest_quotes(con)
    finally:
        for name in sources:
            drop_views(con, name)
    if latest.empty:
        return {}
    con.register("_overview_frame", latest)
    try:
        # Without profiles (or bars) the page has no name (or volume) column: nor has the file.
        rows = frame_rows_sql(
            OVERVIEW,
            "_overview_frame",
            now=ctx.now().isoformat(),
            run_id=run_id,
            present=set(latest.columns),
        )
        con.execute(f"CREATE OR REPLACE TABLE _overview_new AS {rows}")
    finally:
        con.unregister("_overview_frame")
    outcome = merge_rows(
        con,
        store,
        target_of(MARKET_OVERVIEW),
        rows_table="_overview_new",
        run_id=run_id,
        scratch=scratch,
        replace_all=True,
        operation="derive",
        now=ctx.now(),
        details={"inputs": versions},
        basis=Basis(current),
    )
    log.info(
        "dataset derived",
        extra={
            "dataset": OVERVIEW,
            "run_id": run_id,
            "rows": outcome.rows_written,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
    return {OVERVIEW: outcome.result()}
