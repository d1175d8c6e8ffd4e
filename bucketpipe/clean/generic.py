"""Generic cleaning: files of unknown schema -> typed, deduplicated rows, quarantine, a report.

The steps, all in DuckDB SQL over work tables or staged Parquet files (`lake.worktables`;
memory bounded by the DuckDB limit):
load files as text (`loading`), choose column types (`inference`), send rows whose values do
not fit to quarantine (or NULL them with a flag), test numeric outliers (`outliers`), fill
missing values when configured, add lineage, and merge through `engine.merge_rows` like every
other dataset. Schema drift across files and against the committed schema is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from bucketpipe.catalog.rules import DatasetRules
from bucketpipe.clean import steps, summary
from bucketpipe.clean.engine import Target, drop_batch, merge_rows, table_columns
from bucketpipe.clean.inference import choose_type, collect_stats
from bucketpipe.clean.outliers import compute_fences
from bucketpipe.clean.parsing import canonical_type
from bucketpipe.clean.rejects import write_quarantine
from bucketpipe.config.errors import ConfigError
from bucketpipe.formats.bounds import Limits
from bucketpipe.formats.loading import FileRef, Loader
from bucketpipe.formats.refs import INPUT, LOAD_LINEAGE
from bucketpipe.lake.commits import Basis
from bucketpipe.lake.duck import sql_list
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.lake.snapshots import Snapshot, read_current
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.lake.worktables import clear_staged, drop_relation, staging_folder
from bucketpipe.quality.profiling import entity_columns

log = logging.getLogger(__name__)

ACCEPTED = "_g_accepted"
MERGED = "_g_merge"  # the accepted rows and the committed rows carried over
# Lineage and flags: never content, never part of "is this row a change?".
GENERIC_LINEAGE = (
    *(name for name, _ in LOAD_LINEAGE),
    "_clean_run",
    "_cleaned_at",
    "_row_hash",
    "_completeness",
    "_outlier_columns",
    "_invalid_columns",
    "_imputed_columns",
)

# Columns of a rejected row that differ between two deliveries of the same row.
RUN_COLUMNS = frozenset(
    {"_ingest_run", "_fetched_at", "_source_modified", "_clean_run", "_cleaned_at"}
)


def column_names(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"DESCRIBE {sql}").fetchall()]


@dataclass
class GenericOutcome:
    """What cleaning one generic dataset did, for the manifest and the quality report."""

    result: DatasetResult
    types: dict[str, str] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()  # the time series' entity columns, for the quality report
    invalid_kept: int = 0
    batch_rows: int | None = None  # rows of the merged batch (one per key); None: not merged
    steps: list[str] = field(default_factory=list)
    snapshot: Snapshot | None = None


def content_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [c for c, _ in table_columns(con, table) if not c.startswith("_") and c != "dt"]


def committed_types(snapshot: Snapshot | None) -> dict[str, str]:
    if snapshot is None:
        return {}
    return {
        name: canonical_type(typ)
        for name, typ in snapshot.columns
        if not name.startswith("_") and name != "dt"
    }


def committed_rows_sql(store: ObjectStore, snapshot: Snapshot | None) -> str | None:
    """SQL of every committed row of the dataset (None when it has none)."""
    if snapshot is None or not snapshot.files:
        return None
    files = sql_list([store.duckdb_path(f.key) for f in snapshot.files])
    return f"SELECT * FROM read_parquet({files}, union_by_name = true, hive_partitioning = false)"


def clean_generic(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    dataset: str,
    files: Sequence[FileRef],
    *,
    rules: DatasetRules,
    run_id: str,
    now: datetime,
    scratch: Path,
    replace_all: bool = False,
    carry_sql: str | None = None,
    limits: Limits | None = None,
    basis: Basis | None = None,
    small_file_bytes: int = 0,
) -> GenericOutcome:
    """Clean the files of one dataset and commit them (one snapshot version) on `basis`."""
    basis = basis if basis is not None else Basis(read_current(store, dataset))
    loader = Loader(
        con,
        store,
        scratch,
        null_tokens=rules.null_tokens,
        pad_short_rows=rules.short_rows == "pad",
        limits=limits,
    )
    # As many files load side by side as DuckDB has threads: numbering a file's rows is serial.
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    started = time.monotonic()
    loader.load_all(files, workers=int(threads[0]) if threads else 1)
    log.debug(
        "files loaded",
        extra={
            "dataset": dataset,
            "files": len(files),
            "rows": loader.report.rows,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
    report = loader.report
    committed = {} if replace_all else committed_types(basis.snapshot)
    columns = content_columns(con, INPUT)
    stats = collect_stats(con, INPUT, columns, rules)
    keep_always = set(committed) | set(rules.key) | set(rules.types) | {rules.time_column}
    dropped = {
        c: round(stats[c].empty_share * 100, 1)
        for c in columns
        if c not in keep_always and stats[c].empty_share >= rules.missing.drop_columns_over
    }
    columns = [c for c in columns if c not in dropped]
    choices = {
        c: choose_type(stats[c], rules, committed=committed.get(c), pinned=rules.types.get(c))
        for c in columns
    }
    missing = {c: t for c, t in committed.items() if c not in choices}
    _check_names(rules, set(choices) | set(missing), dataset)
    staged = staging_folder(con, scratch)
    invalid = steps.check_rows(con, choices, rules, staged)
    # Each step's rows are dropped once the next one holds them: every copy of the batch
    # DuckDB must spill costs time and scratch space.
    loader.release()
    typed = steps.typed_rows(con, choices, missing, rules)
    types = {c: ch.type for c, ch in choices.items()}
    fences = compute_fences(con, typed, types, rules.outliers)
    plan = steps.apply_outliers(con, typed, fences, rules.outliers)
    fills = steps.fill_exprs(typed, types, rules.missing)
    # Without fills, the accepted rows are a view of the checked ones (not a copy: 2.4 s of
    # five million rows). A table of checked rows is shrunk to the rejected ones once the
    # batch holds them; staged rows stay as they are (their file takes no memory).
    accepted_view = not fills
    imputed = steps.finish(
        con, typed, ACCEPTED, outliers=plan, fills=fills, run_id=run_id, now=now, view=accepted_view
    )
    if not accepted_view and staged is None:
        steps.keep_rejected(con)  # `typed` is a view of the checked rows: read until here
    outliers = plan.report
    rows_table = ACCEPTED
    operation = "rebuild" if replace_all else "append"
    widened = sorted(c for c, ch in choices.items() if ch.action == "widened")
    if widened and not replace_all:
        # One stored type per column: Delta readers (Polars, Spark) read every file as the
        # table's type and do not widen on read, so the commit that widens a column also
        # rewrites the committed rows in the new type.
        carry_sql, replace_all, operation = committed_rows_sql(store, basis.snapshot), True, "widen"
    if carry_sql:
        # Rows whose raw input is gone (retention) are kept as committed, not re-cleaned.
        rows_table = MERGED
        con.execute(
            f"CREATE OR REPLACE TABLE {rows_table} AS SELECT * FROM {ACCEPTED} "
            f"UNION ALL BY NAME {carry_sql}"
        )
    rejects_sql = steps.quarantine_sql(dataset, run_id)
    quarantined = write_quarantine(
        con,
        store,
        dataset=dataset,
        source_sql=rejects_sql,
        run_id=run_id,
        day=now.date(),
        scratch=scratch,
        # A row is the same reject when its values, source file and place in it and its
        # reason are (a re-ingest of a file re-delivers the rows it rejected before).
        identity=[c for c in column_names(con, rejects_sql) if c not in RUN_COLUMNS],
        every_day=True,
    )
    key = rules.key or ("_row_hash",)
    target = Target(
        dataset,
        key,
        rules.time_column or "_fetched_at",
        rules.on_conflict if rules.key else "keep",
        volatile=GENERIC_LINEAGE,
        match_all_partitions=True,
        order_columns=("_source_file", "_source_row"),
    )
    # With staged checked rows, the batch is a view of them (no third copy of the rows: 2 s
    # of five million), which then stay until the report has read the batch (`release`). Not
    # when the batch carries committed rows (read again from their files on every pass), nor
    # for work tables in memory, whose checked rows are shrunk to the rejected ones first.
    batch_view = staged is not None and rows_table == ACCEPTED
    outcome = merge_rows(
        con,
        store,
        target,
        rows_table=rows_table,
        run_id=run_id,
        scratch=scratch,
        replace_all=replace_all,
        operation=operation,
        now=now,
        basis=basis,
        before_write=None
        if batch_view
        else lambda _: _release_rows(con, rows_table, checked=accepted_view and not staged),
        batch_view=batch_view,
        staged=staged,
        small_file_bytes=small_file_bytes,
    )
    reasons = steps.reason_counts(con)
    empty = {c for c, st in stats.items() if st.non_null == 0}
    drift = summary.drift(report.file_columns, choices, committed, missing, empty)
    message = status = None
    if quarantined.key:
        rows = "row" if quarantined.written == 1 else "rows"
        message = f"{quarantined.written:,} {rows} quarantined ({quarantined.key})"
    if report.failed and not report.rows:
        status = "failed"
        message = f"no file could be read: {next(iter(report.failed.values()))}"
    result = outcome.result().model_copy(
        update={
            "rows_in": report.rows + report.rejected,
            "rows_quarantined": quarantined.written,
            "kind": "generic",
            "files": len(files) - len(report.failed),
            "files_failed": report.failed,
            "quarantine_reasons": reasons,
            "types": {c: ch.type for c, ch in choices.items()},
            "columns_dropped": dropped,
            "outliers": outliers,
            "imputed": imputed,
            "drift": drift,
            **({"message": message} if message else {}),
            **({"status": status} if status else {}),
        }
    )
    types = {c: ch.type for c, ch in choices.items()} | missing
    return GenericOutcome(
        result=result,
        types=types,
        key=rules.key,
        entities=entity_columns(rules.key, rules.time_column),
        invalid_kept=invalid if rules.on_invalid == "empty" else 0,
        # Not `rows_in - rows_duplicate`: the duplicates also count the batch's rows that were
        # committed before, which are in the batch the report measures.
        batch_rows=outcome.batch_rows,
        steps=summary.describe(result, choices, dropped, outliers, imputed, rules),
        snapshot=outcome.snapshot,
    )


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for table in dict.fromkeys(tables):
        drop_relation(con, table)


def _release_rows(con: duckdb.DuckDBPyConnection, rows_table: str, *, checked: bool) -> None:
    """Once the batch holds the rows: drop the accepted rows, and shrink the checked rows they
    were a view of to the rejected ones (the quarantine's and the reasons' input)."""
    _drop(con, ACCEPTED, rows_table)
    if checked:
        steps.keep_rejected(con)


def release(con: duckdb.DuckDBPyConnection, scratch: Path) -> None:
    """Drop what a dataset's clean leaves for its report: the batch and the rows it reads."""
    drop_batch(con)
    _drop(con, MERGED, ACCEPTED, steps.TYPED, steps.CHECKED)
    clear_staged(staging_folder(con, scratch))


def _check_names(rules: DatasetRules, columns: set[str], dataset: str) -> None:
    wanted = [*rules.key, *([rules.time_column] if rules.time_column else [])]
    unknown = [c for c in wanted if c not in columns]
    if unknown:
        raise ConfigError(
            f"dataset {dataset}: configured column {unknown[0]!r} is not in the data "
            f"(columns: {sorted(columns)[:20]})"
        )
