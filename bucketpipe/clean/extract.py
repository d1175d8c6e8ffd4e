"""Cleaning one catalog dataset from the raw lines of a run: extract typed rows, quarantine the
rejected ones, merge the rest into the dataset and profile them for the quality report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from bucketpipe.catalog.spec import DatasetSpec
from bucketpipe.clean.assessment import ACCEPTED_ROWS, measure_accepted
from bucketpipe.clean.engine import BATCH, Target, drop_batch, merge_rows
from bucketpipe.clean.plan import ATTEMPTS, Plan
from bucketpipe.clean.rebuilding import Carry
from bucketpipe.clean.rejects import write_quarantine
from bucketpipe.config.errors import CommitConflict
from bucketpipe.context import Context
from bucketpipe.lake.commits import Basis, VersionTaken
from bucketpipe.lake.duck import quote_literal
from bucketpipe.lake.layout import quarantine_key
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.lake.snapshots import Snapshot
from bucketpipe.quality.scoring import Measured

# The ingest runs a catalog dataset's staged rows came from (accepted or quarantined).
STAGED_RUNS = "SELECT DISTINCT _ingest_run FROM _staged WHERE _ingest_run IS NOT NULL"


@dataclass
class Cleaned:
    """A catalog dataset's result, and the profile of its accepted rows for the report."""

    result: DatasetResult
    measured: Measured | None
    # Distinct rejected rows of the input (some may have been in quarantine already).
    rejected: int = 0
    repeats: int = 0  # the input's further copies of rejected rows
    snapshot: Snapshot | None = None


def clean_spec(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    spec: DatasetSpec,
    *,
    run_id: str,
    scratch: Any,
    replace_all: bool = False,
    carry: Carry | None = None,
    view: str = "raw",
    basis: Basis | None = None,
) -> Cleaned:
    """Clean one catalog dataset from the raw lines of `view` and commit it on `basis`.

    `carry` (a rebuild) adds committed rows whose raw input no longer exists.
    """
    con.execute(f"CREATE OR REPLACE TABLE _staged AS {spec.extract_sql(view)}")
    carry_sql = carry(spec.name, STAGED_RUNS) if carry else None
    rows_in = int(con.execute("SELECT count(*) FROM _staged").fetchone()[0])  # type: ignore[index]
    quarantined = write_quarantine(
        con,
        ctx.store,
        dataset=spec.name,
        source_sql=(
            f"SELECT s.*, {quote_literal(spec.name)} AS _dataset, f.file AS _source_file, "
            f"{quote_literal(run_id)} AS _clean_run FROM _staged AS s "
            "LEFT JOIN _raw_files AS f ON f.run = s._ingest_run "
            "WHERE s._reject_reason IS NOT NULL"
        ),
        run_id=run_id,
        day=ctx.now().date(),
        scratch=scratch,
        identity=[c.name for c in spec.columns],
        time_column=spec.time_column,
    )
    # Views, not tables: a copy of every accepted row would double the memory (and the
    # spilling) of a large rebuild.
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {ACCEPTED_ROWS} AS SELECT * EXCLUDE (_reject_reason), "
        f"{quote_literal(run_id)} AS _clean_run FROM _staged WHERE _reject_reason IS NULL"
    )
    rows_table = ACCEPTED_ROWS
    if carry_sql:
        rows_table = "_merge"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _merge AS SELECT * FROM {ACCEPTED_ROWS} "
            f"UNION ALL BY NAME {carry_sql}"
        )
    measured: list[Measured | None] = []

    # The batch is a view of the staged rows (one copy of them, not two), which then stay until
    # the dataset is committed; not when it carries committed rows, which it would read again
    # from their files for every question the report asks.
    batch_view = carry_sql is None

    def profile(distinct_keys: int) -> None:
        # What readers get is profiled: the batch, one row per key (the inputs' repeats are
        # counted as duplicates removed, not scored). A copied batch no longer needs the staged
        # rows: they are dropped first, so the profile and the write get the memory.
        if not batch_view:
            drop_staged()
        measured.append(measure_accepted(con, ctx, spec, BATCH, known_distinct_keys=distinct_keys))

    def drop_staged() -> None:
        con.execute(
            f"DROP VIEW IF EXISTS _merge; DROP VIEW IF EXISTS {ACCEPTED_ROWS}; "
            "DROP TABLE IF EXISTS _staged"
        )

    outcome = merge_rows(
        con,
        ctx.store,
        Target(
            spec.name,
            spec.primary_key,
            spec.time_column,
            spec.on_conflict,
            partition_by=spec.partition_by,
            cluster_by=spec.cluster_by,
        ),
        rows_table=rows_table,
        run_id=run_id,
        scratch=scratch,
        replace_all=replace_all,
        operation="rebuild" if replace_all else "append",
        now=ctx.now(),
        before_write=profile,
        basis=basis,
        batch_view=batch_view,
        small_file_bytes=ctx.settings.clean_small_file_bytes,
    )
    drop_batch(con)
    drop_staged()
    result = outcome.result().model_copy(
        update={"rows_in": rows_in, "rows_quarantined": quarantined.written}
    )
    if quarantined.rejected:
        message = f"{quarantined.written} rows quarantined"
        if quarantined.key:
            message += f" ({quarantined.key})"
        if quarantined.already:
            message += f"; {quarantined.already} already in quarantine"
        result = result.model_copy(
            update={"message": message, "quarantine_reasons": quarantined.reasons}
        )
    return Cleaned(
        result,
        measured[0] if measured else None,
        rejected=quarantined.rejected,
        repeats=quarantined.repeats,
        snapshot=outcome.snapshot,
    )


def clean_catalog(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    spec: DatasetSpec,
    *,
    plan: Plan,
    run_id: str,
    scratch: Any,
    carry: Carry | None = None,
) -> Cleaned | None:
    """Clean and commit one catalog dataset, planning again after each lost race; None when
    every input is in already (another writer committed them)."""
    for _ in range(ATTEMPTS):
        reads = plan.reads(spec.name)
        if not reads and not plan.rebuild:
            return None
        basis = plan.basis(spec.name)
        try:
            cleaned = clean_spec(
                con,
                ctx,
                spec,
                run_id=run_id,
                scratch=scratch,
                replace_all=plan.rebuild,
                carry=carry,
                view=inputs_view(con, reads),
                basis=basis,
            )
        except VersionTaken:
            # Its quarantine file is written again by the next attempt (or not at all).
            ctx.store.delete([quarantine_key(spec.name, ctx.now().date(), run_id)])
            plan.replan(spec.name)
            continue
        plan.committed(cleaned.snapshot, spec.name, basis.inputs)
        if cleaned.snapshot is not None and basis.inputs:
            cleaned.result = cleaned.result.model_copy(update={"inputs": list(basis.inputs)})
        return cleaned
    raise CommitConflict(f"{spec.name}: other writers kept committing first; rerun")


def inputs_view(con: duckdb.DuckDBPyConnection, inputs: Sequence[str]) -> str:
    """A view of the raw lines of these inputs only (the `raw` view holds the whole run's)."""
    listed = ", ".join(quote_literal(i) for i in inputs) or "NULL"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _raw_inputs AS SELECT * FROM raw WHERE run IN ({listed})"
    )
    return "_raw_inputs"
