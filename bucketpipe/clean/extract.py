"""Cleaning one catalog dataset from the raw lines of a run: extract typed rows, quarantine the
rejected ones, merge the rest into the dataset and profile them for the quality report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from bucketpipe.catalog.spec import DatasetSpec
from bucketpipe.clean.assessment import ACCEPTED_ROWS, measure_accepted
from bucketpipe.clean.engine import BATCH, Target, merge_rows
from bucketpipe.clean.rebuilding import Carry
from bucketpipe.clean.rejects import write_quarantine
from bucketpipe.context import Context
from bucketpipe.lake.duck import quote_literal
from bucketpipe.lake.runs import DatasetResult
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


def clean_spec(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    spec: DatasetSpec,
    *,
    run_id: str,
    scratch: Any,
    replace_all: bool = False,
    carry: Carry | None = None,
) -> Cleaned:
    """Clean one catalog dataset from the `raw` view and commit it.

    `carry` (a rebuild) adds committed rows whose raw input no longer exists.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _staged AS {spec.extract_sql('raw')}")
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
    # Views, not tables: the merge materializes its deduplicated batch once, and a copy of
    # every accepted row here would double the memory (and the spilling) of a large rebuild.
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

    def profile_then_drop(distinct_keys: int) -> None:
        # What readers get is profiled: the batch, one row per key (the inputs' repeats are
        # counted as duplicates removed, not scored). The staged rows are dropped first, so
        # the profile and the write get the memory (a large rebuild spills less).
        con.execute(f"DROP VIEW IF EXISTS _merge; DROP VIEW {ACCEPTED_ROWS}; DROP TABLE _staged")
        measured.append(measure_accepted(con, ctx, spec, BATCH, known_distinct_keys=distinct_keys))

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
        before_write=profile_then_drop,
    )
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
    return Cleaned(result, measured[0] if measured else None, quarantined.rejected)
