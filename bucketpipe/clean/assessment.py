"""Quality reports for what a clean run delivered: catalog, generic and derived datasets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import duckdb

from bucketpipe import catalog
from bucketpipe.catalog.spec import DatasetSpec
from bucketpipe.clean.engine import BATCH, count
from bucketpipe.clean.generic import GenericOutcome
from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.context import Context
from bucketpipe.lake.duck import sql_list
from bucketpipe.lake.layout import quality_report_key
from bucketpipe.lake.runs import DatasetResult, RunManifest
from bucketpipe.lake.snapshots import read_current
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.quality.profiling import entity_columns
from bucketpipe.quality.report import QualityReport, update_latest
from bucketpipe.quality.scoring import Delivery, Measured, assess, measure
from bucketpipe.quality.wording import quantity

log = logging.getLogger(__name__)


def forward_looking(spec: DatasetSpec | None, dataset: str) -> bool:
    """Calendars list future dates on purpose; their dates are not checked for the future."""
    if "calendar" in dataset:
        return True
    return spec is not None and any(t in ("calendar", "forward") for t in spec.tags)


def catalog_steps(
    spec: DatasetSpec, result: DatasetResult, rejected: int, repeated: int = 0
) -> list[str]:
    out = [f"extracted from raw {', '.join(spec.endpoints)} responses"]
    if rejected:
        notes = []
        if already := rejected - result.rows_quarantined:
            notes.append(f"{already:,} already in quarantine, not stored again")
        if repeated:
            notes.append(f"{quantity(repeated, 'repeat')} of them in the input, counted once")
        text = f"{quantity(rejected, 'row')} rejected by the dataset's rules"
        out.append(text + (f" ({'; '.join(notes)})" if notes else ""))
    if result.rows_duplicate:
        out.append(
            f"{quantity(result.rows_duplicate, 'duplicate')} removed "
            f"(key {', '.join(spec.primary_key)})"
        )
    if result.rows_replaced:
        out.append(f"{quantity(result.rows_replaced, 'row')} replaced by newer versions")
    return out


def _safe(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    relation: str,
    columns: Sequence[tuple[str, str]],
    delivery: Delivery,
    measured: Measured | None = None,
    known_distinct_keys: int | None = None,
) -> QualityReport | None:
    try:
        return assess(
            con,
            relation,
            columns,
            delivery,
            ctx.settings.quality_thresholds,
            measured,
            known_distinct_keys,
        )
    except duckdb.Error as exc:
        # A report that cannot be computed must not undo the cleaning; say so and go on.
        log.warning(
            "quality report failed",
            extra={"dataset": delivery.dataset, "error": str(exc).splitlines()[0][:200]},
        )
        return None


ACCEPTED_ROWS = "_accepted"


def measure_accepted(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    spec: DatasetSpec,
    relation: str,
    known_distinct_keys: int | None = None,
) -> Measured | None:
    """The profile of `relation` (the rows this run commits, one per key), taken while the
    rows are at hand; None (and a warning) when it cannot be computed."""
    try:
        return measure(
            con,
            relation,
            [(c.name, c.type) for c in spec.columns],
            spec.primary_key,
            now=ctx.now(),
            future_ok=forward_looking(spec, spec.name),
            known_distinct_keys=known_distinct_keys,
            entities=entity_columns(spec.primary_key, spec.time_column),
            due=spec.due,
        )
    except duckdb.Error as exc:
        log.warning(
            "quality report failed",
            extra={"dataset": spec.name, "error": str(exc).splitlines()[0][:200]},
        )
        return None


def catalog_report(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    spec: DatasetSpec,
    result: DatasetResult,
    run_id: str,
    measured: Measured,
    rejected: int = 0,
    repeated: int = 0,
) -> QualityReport | None:
    """The report over what `measure_accepted` found in the rows the run commits.

    `rejected` (distinct rejected rows of the input) counts in validity even when those rows
    were quarantined by an earlier run: the score describes this delivery, whatever the
    quarantine already held, so a re-ingest scores like the first ingest; `repeated` (the
    input's further copies of them) is counted once with them.
    """
    delivery = Delivery(
        dataset=spec.name,
        run_id=run_id,
        now=ctx.now(),
        key=spec.primary_key,
        rows_in=result.rows_in,
        rows_quarantined=rejected,
        rows_duplicate=result.rows_duplicate,
        rows_written=result.rows_written,
        rows_rejected_repeated=repeated,
        kind="catalog",
        quarantine_reasons=result.quarantine_reasons,
        steps=catalog_steps(spec, result, rejected, repeated),
        future_ok=forward_looking(spec, spec.name),
    )
    columns = [(c.name, c.type) for c in spec.columns]
    return _safe(con, ctx, BATCH, columns, delivery, measured)


def generic_report(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    dataset: str,
    outcome: GenericOutcome,
    run_id: str,
) -> QualityReport | None:
    """The report over the rows of a generic dataset this run commits (`BATCH`, one per key
    or distinct row), measured right after its merge."""
    result = outcome.result
    invalid_kept = 0
    if outcome.invalid_kept:
        invalid_kept = count(con, f"SELECT * FROM {BATCH} WHERE _invalid_columns IS NOT NULL")
    delivery = Delivery(
        dataset=dataset,
        run_id=run_id,
        now=ctx.now(),
        key=outcome.key or ("_row_hash",),
        rows_in=result.rows_in,
        rows_quarantined=result.rows_quarantined,
        rows_invalid_kept=invalid_kept,
        rows_duplicate=result.rows_duplicate,
        rows_written=result.rows_written,
        kind="generic",
        quarantine_reasons=result.quarantine_reasons,
        drift=result.drift,
        steps=outcome.steps,
        future_ok=forward_looking(None, dataset),
        entities=outcome.entities,
    )
    columns = [(name, typ) for name, typ in outcome.types.items()]
    # The batch holds one row per key (no key part is empty: such rows were quarantined), so
    # its rows are its distinct keys.
    return _safe(con, ctx, BATCH, columns, delivery, known_distinct_keys=outcome.batch_rows)


def written_report(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    dataset: str,
    result: DatasetResult,
    run_id: str,
) -> QualityReport | None:
    """The report over the files this run added to a dataset (derived datasets)."""
    snapshot = read_current(ctx.store, dataset)
    if snapshot is None:
        return None
    files = [ctx.store.duckdb_path(f.key) for f in snapshot.files if f.run_id == run_id]
    if not files:
        return None
    try:
        spec: DatasetSpec | None = catalog.get(dataset)
    except KeyError:
        spec = None
    relation = (
        f"(SELECT * FROM read_parquet({sql_list(files)}, union_by_name = true, "
        "hive_partitioning = false))"
    )
    columns = [(n, t) for n, t in snapshot.columns if not n.startswith("_") and n != "dt"]
    delivery = Delivery(
        dataset=dataset,
        run_id=run_id,
        now=ctx.now(),
        key=spec.primary_key if spec else (),
        rows_in=result.rows_in,
        rows_quarantined=result.rows_quarantined,
        rows_duplicate=result.rows_duplicate,
        rows_written=result.rows_written,
        kind="derived" if spec and spec.derived_from else "catalog",
        steps=[f"computed from {', '.join(spec.derived_from)}"]
        if spec and spec.derived_from
        else [],
        future_ok=forward_looking(spec, dataset),
        entities=entity_columns(spec.primary_key, spec.time_column) if spec else (),
        due=spec.due if spec else None,
    )
    return _safe(con, ctx, relation, columns, delivery)


def publish_quality(store: ObjectStore, manifest: RunManifest, now: datetime) -> None:
    """After the commit: fold the run's reports into the latest-state documents."""
    reports = []
    for name, result in manifest.datasets.items():
        if result.quality_score is None:
            continue
        try:
            reports.append(
                QualityReport.model_validate_json(
                    store.get(quality_report_key(name, manifest.run_id))
                )
            )
        except (ObjectNotFound, ValueError):
            continue
    summary = {
        "run_id": manifest.run_id,
        "finished_at": manifest.finished_at.isoformat(),
        "status": manifest.status,
        "inputs": len(manifest.inputs),
        "datasets": {
            name: {
                "rows_in": r.rows_in,
                "rows_written": r.rows_written,
                "rows_duplicate": r.rows_duplicate,
                "rows_quarantined": r.rows_quarantined,
                "quality_score": r.quality_score,
                "status": r.status,
                "files": r.files,
            }
            for name, r in manifest.datasets.items()
        },
        "steps": {rep.dataset: rep.steps for rep in reports},
    }
    update_latest(store, reports, run_id=manifest.run_id, now=now, run_summary=summary)
