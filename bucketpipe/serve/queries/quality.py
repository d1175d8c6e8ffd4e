"""Quality: scores over time, the four dimensions against their thresholds, quarantine."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd

from bucketpipe.context import Context
from bucketpipe.lake import quarantine as quarantine_files
from bucketpipe.lake.duck import connect, quote_ident, quote_literal, sql_list
from bucketpipe.lake.layout import QUARANTINE_DAY_PREFIX as DAY_FILE
from bucketpipe.lake.layout import partition_of
from bucketpipe.lake.snapshots import FileEntry, Snapshot, read_current
from bucketpipe.quality.report import (
    DIMENSIONS,
    REPORT_COUNTS,
    REPORTS_DATASET,
    QualityReport,
    read_latest,
    read_reports,
)
from bucketpipe.quality.wording import (
    actions,
    dimension_score,
    distinct_text,
    issues_text,
    number_text,
    overall_score,
    score_value,
    value_text,
)
from bucketpipe.serve.queries.base import frame

REASON = "_reject_reason"  # the column clean writes the rejection reason to
# The quality page's quarantine panel reads the files of this many newest days, at most this
# many files (each one is a request or two).
QUARANTINE_DAYS = 7
QUARANTINE_FILES = 3
SCORE_COLUMNS = ["dataset", "created_at", "run_id", "overall_score", *DIMENSIONS, "passed", "rows"]


def latest(ctx: Context) -> dict[str, QualityReport]:
    """Dataset -> its newest quality report."""
    return read_latest(ctx.store)


def latest_score(ctx: Context, dataset: str) -> float | None:
    """Overall score of the dataset's newest quality report (None when there is none), to one
    decimal and below 100 whenever a check failed (99.9, not 100.0, for 99.97)."""
    report = read_latest(ctx.store).get(dataset)
    return score_value(overall_score(report), 1) if report is not None else None


def history(
    ctx: Context, datasets: Sequence[str], limit: int = 50, snapshot: Snapshot | None = None
) -> pd.DataFrame:
    """The newest `limit` reports of each dataset as rows, oldest first (for a line chart).

    From the `quality_reports` dataset: the month files that hold the datasets' newest
    reports (see `history_files`). A lake whose clean has not yet written that dataset is
    read from the per-run JSON reports. `snapshot` is that dataset's snapshot when the caller
    holds it already (else it is read).
    """
    snapshot = snapshot or read_current(ctx.store, REPORTS_DATASET)
    if snapshot is None or not snapshot.files:
        reports = [r for name in datasets for r in read_reports(ctx.store, name, limit)]
        return scores_frame(reports)
    files = history_files(snapshot, datasets, limit)
    with connect(ctx.settings) as con:
        if files is not None:
            return history_rows(con, [ctx.store.duckdb_path(f.key) for f in files], datasets, limit)
        # A version written before the counts were kept: month by month, newest first.
        months = sorted({f.partition or "" for f in snapshot.files}, reverse=True)
        parts: list[pd.DataFrame] = []
        for month in months:
            keys = [f.key for f in snapshot.files if (f.partition or "") == month]
            parts.append(_newest(con, [ctx.store.duckdb_path(k) for k in keys], datasets, limit))
            found = pd.concat(parts)["dataset"].value_counts()
            if all(found.get(name, 0) >= limit for name in datasets):
                break
    return _tidy(pd.concat(parts, ignore_index=True), limit)


def history_files(
    snapshot: Snapshot, datasets: Sequence[str], limit: int
) -> list[FileEntry] | None:
    """The files of `quality_reports` that hold the datasets' newest `limit` reports: for
    each dataset its newest months, until they hold `limit` reports (pure).

    From the counts each version records; None for a version without them.
    """
    counts = snapshot.details.get(REPORT_COUNTS)
    if not isinstance(counts, dict):
        return None
    months: set[str] = set()
    for name in datasets:
        held = counts.get(name)
        found = 0
        for month, n in sorted(held.items(), reverse=True) if isinstance(held, dict) else ():
            if found >= limit:
                break
            months.add(month)
            found += int(n)
    return snapshot.files_for(partitions=months) if months else []


def history_rows(
    con: duckdb.DuckDBPyConnection, paths: Sequence[str], datasets: Sequence[str], limit: int
) -> pd.DataFrame:
    """The newest `limit` score rows of each dataset in these `quality_reports` files,
    oldest first (the page runs it on the session's connection, whose caches it shares)."""
    if not paths:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    return _tidy(_newest(con, list(paths), datasets, limit), limit)


def _tidy(table: pd.DataFrame, limit: int) -> pd.DataFrame:
    table = table.sort_values("created_at", ascending=False).groupby("dataset").head(limit)
    table["created_at"] = pd.to_datetime(table["created_at"], utc=True)
    return table.sort_values(["created_at", "dataset"], ignore_index=True)[SCORE_COLUMNS]


def _newest(
    con: duckdb.DuckDBPyConnection, paths: list[str], datasets: Sequence[str], limit: int
) -> pd.DataFrame:
    """The newest `limit` score rows of each dataset in these `quality_reports` files."""
    wanted = ", ".join(quote_literal(d) for d in datasets)
    picked = ", ".join(quote_ident(c) for c in SCORE_COLUMNS)
    return frame(
        con,
        f"SELECT {picked} FROM read_parquet({sql_list(paths)}, union_by_name = true, "
        f"hive_partitioning = false) WHERE dataset IN ({wanted}) QUALIFY row_number() "
        f"OVER (PARTITION BY dataset ORDER BY created_at DESC) <= {int(limit)}",
    )


def scores_frame(reports: Iterable[QualityReport]) -> pd.DataFrame:
    """One row per report: overall score, each dimension's score (two decimals, below 100
    whenever a check failed), pass, rows (pure)."""
    rows = [
        {
            "dataset": r.dataset,
            "created_at": r.created_at,
            "run_id": r.run_id,
            "overall_score": score_value(overall_score(r)),
            **{
                name: (
                    score_value(dimension_score(r.dimensions[name]))
                    if name in r.dimensions
                    else None
                )
                for name in DIMENSIONS
            },
            "passed": r.passed,
            "rows": r.rows,
        }
        for r in reports
    ]
    table = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    return table.sort_values(["created_at", "dataset"], ignore_index=True)


def dimensions(report: QualityReport) -> pd.DataFrame:
    """The four dimensions of one report: score (from its counts when stored rounded up to
    100), threshold, met or not, definition (pure)."""
    rows = [
        {
            "dimension": name,
            "score": dimension_score(dim),
            "threshold": dim.threshold,
            "passed": dim.passed,
            "counted": f"{dim.numerator:,} of {dim.denominator:,}",
            "definition": dim.definition,
        }
        for name in DIMENSIONS
        if (dim := report.dimensions.get(name)) is not None
    ]
    return pd.DataFrame(
        rows, columns=["dimension", "score", "threshold", "passed", "counted", "definition"]
    )


def overview(
    reports: dict[str, QualityReport], committed_rows: Mapping[str, int] | None = None
) -> pd.DataFrame:
    """The newest report of every dataset as one table, worst score first (pure).

    `rows` is the dataset's row count now (`committed_rows`, from its snapshot: what
    `SELECT count(*)` gives; 0 for a dataset with nothing committed, such as one whose every
    row was rejected; empty when `committed_rows` is not given); `rows_assessed` the rows
    the newest report scored: what its run delivered, one per key.
    """
    table = scores_frame(reports.values()).rename(columns={"rows": "rows_assessed"})
    held = committed_rows
    extra = pd.DataFrame(
        [
            {
                "dataset": r.dataset,
                "rows": None if held is None else held.get(r.dataset, 0),
                "quarantined": r.rows_quarantined,
                "duplicates_removed": r.rows_duplicate,
                "recommendations": len(actions(r)),
            }
            for r in reports.values()
        ],
        columns=["dataset", "rows", "quarantined", "duplicates_removed", "recommendations"],
    ).astype({"rows": "Int64"})
    merged = table.merge(extra, on="dataset", how="left")
    return merged.sort_values("overall_score", ignore_index=True)


PROFILE_COLUMNS = [
    "column",
    "type",
    "empty_pct",
    "due",
    "distinct",
    "min",
    "max",
    "mean",
    "top_values",
    "issues",
]


def due_text(due: int | None, filled: int | None, rows: int) -> str:
    """Where a column's value is due, for one that is empty by definition elsewhere (pure):
    `every row`, else `12 of 30 rows, 12 filled`."""
    if due is None:
        return "every row"
    return f"{due:,} of {rows:,} rows, {filled or 0:,} filled"


def column_profiles(report: QualityReport) -> pd.DataFrame:
    """Per column of the report, as text to read (pure): type, % empty, distinct values
    ("≈" marks an estimate, never above the column's non-empty values), range, mean, most
    frequent values and the issues behind consistency."""
    rows = [
        {
            "column": p.name,
            "type": p.type,
            "empty_pct": p.null_pct,
            "due": due_text(p.due, p.due_filled, report.rows),
            "distinct": distinct_text(p.distinct, p.distinct_exact, report.rows - p.nulls),
            "min": value_text(p.min),
            "max": value_text(p.max),
            "mean": None if p.mean is None else number_text(p.mean),
            "top_values": ", ".join(f"{t.value} ({t.count:,})" for t in p.top_values[:3]),
            "issues": issues_text(p.issues),
        }
        for p in report.column_profiles
    ]
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def quarantine_reasons(reports: Iterable[QualityReport]) -> pd.DataFrame:
    """Quarantined rows per dataset and reason, summed over the given reports (pure)."""
    rows = [
        {"dataset": r.dataset, "reason": reason, "rows": count}
        for r in reports
        for reason, count in r.quarantine_reasons.items()
    ]
    table = pd.DataFrame(rows, columns=["dataset", "reason", "rows"])
    if table.empty:
        return table
    summed = table.groupby(["dataset", "reason"], as_index=False).agg(rows=("rows", "sum"))
    out: pd.DataFrame = summed.sort_values(
        ["dataset", "rows"], ascending=[True, False], ignore_index=True
    )
    return out


def quarantine(
    ctx: Context,
    dataset: str,
    sample: int = 20,
    reason: str | None = None,
    days: int = QUARANTINE_DAYS,
    keys: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows per reason, the newest `sample` rejected rows) of `keys`, else of
    `quarantine_keys`' files.

    From an object store each file is fetched whole, one GET (no HEAD and no GET per part of
    it as DuckDB would make), into a local copy kept while the file stays among the newest:
    its key is unique and never rewritten.
    """
    keys = quarantine_keys(ctx, dataset, days) if keys is None else keys
    with connect(ctx.settings) as con:
        return quarantine_frames(con, local_copies(ctx, dataset, keys), sample, reason)


def local_copies(ctx: Context, dataset: str, keys: Sequence[str]) -> list[str]:
    """Paths DuckDB reads the quarantine files at: the lake's own for a local lake, else
    copies under the temp directory (fetched once; copies of other keys removed)."""
    paths = [ctx.store.duckdb_path(k) for k in keys]
    if not any("://" in p for p in paths):
        return paths
    folder = Path(ctx.settings.temp_dir) / "quarantine-copies" / dataset
    wanted = {folder / k: k for k in keys}
    for old in folder.rglob("*.parquet") if folder.is_dir() else ():
        if old not in wanted:
            old.unlink(missing_ok=True)
    for path, key in wanted.items():
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
            part.write_bytes(ctx.store.get(key))
            part.replace(path)  # a reader never sees half a copy
    return [str(p) for p in wanted]


def quarantine_keys(
    ctx: Context, dataset: str, days: int = QUARANTINE_DAYS, files: int = QUARANTINE_FILES
) -> list[str]:
    """The quarantine files of the newest `days` days that have any, at most `files` of
    them, newest first: one LIST, then a bounded read whatever the history (today's run files
    before compaction rolls them into a day file could be a hundred)."""
    keys = quarantine_files.file_keys(ctx.store, dataset)
    newest = set(sorted({partition_of(k) or "" for k in keys}, reverse=True)[: max(days, 1)])
    # Within a day, its day file (all of the day's runs) before the runs' own files.
    picked = sorted(
        (k for k in keys if (partition_of(k) or "") in newest),
        key=lambda k: (partition_of(k) or "", k.rsplit("/", 1)[-1].startswith(DAY_FILE), k),
        reverse=True,
    )
    return picked[: max(files, 1)]


def quarantine_days(keys: Sequence[str]) -> tuple[str, str] | None:
    """The first and last day the files cover (pure)."""
    found = sorted(d for k in keys if (d := partition_of(k)))
    return (found[0], found[-1]) if found else None


def quarantine_frames(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    sample: int = 20,
    reason: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows per reason, the newest `sample` rejected rows) of these quarantine files; a run's
    rows are counted once even while compaction rolls run files into day files."""
    if not paths:
        return pd.DataFrame(columns=["reason", "rows"]), pd.DataFrame()
    rows_sql = quarantine_files.relation_sql(list(paths))
    where = f"WHERE {REASON} = {quote_literal(reason)}" if reason else ""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _q AS {rows_sql}")  # the files are read once
    counts = frame(
        con,
        f"SELECT coalesce({REASON}, '(no reason)') AS reason, count(*) AS rows "
        "FROM _q GROUP BY ALL ORDER BY rows DESC, reason",
    )
    rows = frame(
        con,
        f"SELECT * FROM _q {where} ORDER BY _clean_run DESC LIMIT {max(int(sample), 0)}",
    )
    con.execute("DROP TABLE _q")
    first = [c for c in (REASON, "_clean_run") if c in rows]
    return counts, rows[first + [c for c in rows.columns if c not in first]]
