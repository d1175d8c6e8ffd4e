"""Committing a clean run's quality reports as rows of the `quality_reports` dataset.

One row per report, partitioned by month of `created_at`. The run rewrites its month's file
(the month's earlier rows plus its own) rather than adding one small file per run: a year of
15-minute runs stays twelve files. Each version also records how many reports of each dataset
every month holds (`REPORT_COUNTS` in its details), so the dashboard's trend of a dataset reads
just the month files that hold its newest reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bucketpipe.clean.engine import Target, count, partition_expr, write_files
from bucketpipe.clean.plan import ATTEMPTS
from bucketpipe.config.errors import CommitConflict
from bucketpipe.context import Context
from bucketpipe.lake.commits import Basis, VersionTaken, commit
from bucketpipe.lake.duck import quote_ident, sql_list
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.lake.snapshots import Snapshot, read_current
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.quality.report import (
    REPORT_COLUMNS,
    REPORT_COUNTS,
    REPORTS_DATASET,
    QualityReport,
    read_all_reports,
    report_row,
)

log = logging.getLogger(__name__)

TARGET = Target(REPORTS_DATASET, ("dataset", "run_id"), "created_at", partition_by="month")
NEW = "_qr_new"


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).date().replace(day=1).isoformat()


def commit_reports(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    reports: Mapping[str, QualityReport],
    run_id: str,
    scratch: Path,
) -> DatasetResult | None:
    """Add the reports to `quality_reports` in one commit; None when there are none.

    A report already committed for the same dataset and run (a rerun) is replaced. A commit
    that fails is logged and left to the next run's reports: it must not fail the cleaning,
    and the per-run JSON reports are written regardless.
    """
    if not reports:
        return None
    if read_current(ctx.store, REPORTS_DATASET) is None:
        # The first commit also takes the reports kept as JSON so far: the trend goes on.
        earlier = {(r.dataset, r.run_id): r for r in read_all_reports(ctx.store)}
        reports = {f"{d}/{run}": r for (d, run), r in earlier.items()} | dict(reports)
    try:
        return commit_rows(con, ctx.store, reports, run_id=run_id, scratch=scratch, now=ctx.now())
    except (duckdb.Error, CommitConflict) as exc:
        log.warning(
            "quality reports not committed",
            extra={"run_id": run_id, "error": str(exc).splitlines()[0][:200]},
        )
        return None


def commit_rows(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    reports: Mapping[str, QualityReport],
    *,
    run_id: str,
    scratch: Path,
    now: datetime,
) -> DatasetResult:
    columns = ", ".join(f"{quote_ident(n)} {t}" for n, t in REPORT_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE {NEW} ({columns})")
    marks = ", ".join("?" for _ in REPORT_COLUMNS)
    con.executemany(
        f"INSERT INTO {NEW} VALUES ({marks})",
        [report_row(r) for r in {(r.dataset, r.run_id): r for r in reports.values()}.values()],
    )
    months = sorted({month_of(r.created_at) for r in reports.values()})
    for _ in range(ATTEMPTS):
        basis = Basis(read_current(store, REPORTS_DATASET))
        current = basis.snapshot
        old = current.files_for(partitions=months) if current else []
        rows_sql = f"SELECT * FROM {NEW}"
        if old:
            paths = sql_list([store.duckdb_path(f.key) for f in old])
            rows_sql += (
                f" UNION ALL BY NAME (SELECT * FROM read_parquet({paths}, union_by_name = true, "
                f"hive_partitioning = false) ANTI JOIN {NEW} USING (dataset, run_id))"
            )
        added = write_files(
            con, store, TARGET, rows_sql, run_id=run_id, version=basis.version + 1, scratch=scratch
        )
        counts = report_counts(con, store, current, rows_sql, months)
        try:
            snapshot = commit(
                store,
                REPORTS_DATASET,
                run_id=run_id,
                add=added,
                remove=[f.key for f in old],
                columns=list(REPORT_COLUMNS),
                time_column=TARGET.time_column,
                operation="append",
                basis=basis,
                details={REPORT_COUNTS: counts},
                now=now,
            )
            break
        except VersionTaken:
            # Another clean committed its reports first: merge with what it committed.
            store.delete([f.key for f in added])
    else:
        raise CommitConflict(f"{REPORTS_DATASET}: other writers kept committing first; rerun")
    written = count(con, f"SELECT * FROM {NEW}")
    log.info("quality reports committed", extra={"run_id": run_id, "rows": written})
    return DatasetResult(
        rows_in=written,
        rows_written=written,
        files_added=len(added),
        files_removed=len(old),
        snapshot_version=snapshot.version,
    )


def report_counts(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    current: Snapshot | None,
    rows_sql: str,
    months: list[str],
) -> dict[str, dict[str, int]]:
    """Dataset -> month -> reports, after `rows_sql` replaces the rows of `months`.

    The other months' counts come from the current version; a version written before the
    counts were kept has them counted from its files, once.
    """
    known = current.details.get(REPORT_COUNTS) if current is not None else {}
    kept = [f for f in current.files if f.partition not in months] if current else []
    parts = [f"SELECT dataset, created_at FROM ({rows_sql})"]
    if not isinstance(known, dict):
        known = {}
        if kept:
            paths = sql_list([store.duckdb_path(f.key) for f in kept])
            parts.append(
                f"SELECT dataset, created_at FROM read_parquet({paths}, union_by_name = true, "
                "hive_partitioning = false)"
            )
    counts = {
        str(name): {m: int(n) for m, n in by_month.items() if m not in months}
        for name, by_month in known.items()
        if isinstance(by_month, dict)
    }
    month = partition_expr(TARGET.time_column, TARGET.partition_by)
    rows = con.execute(
        f"SELECT dataset, CAST({month} AS VARCHAR), count(*) FROM ({' UNION ALL '.join(parts)}) "
        "GROUP BY ALL"
    ).fetchall()
    for name, period, n in rows:
        counts.setdefault(str(name), {})[str(period)] = int(n)
    return {name: dict(sorted(c.items())) for name, c in sorted(counts.items()) if c}
