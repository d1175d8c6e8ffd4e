"""The clean job: find committed ingest runs not yet cleaned, clean them, commit, announce.

The work list comes from the bucket (`pending`); the Redis stream only wakes the job sooner
and is acked after the commit. Losing Redis loses nothing. A rebuild re-cleans datasets from
all raw data with today's rules.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import duckdb

from bucketpipe import catalog
from bucketpipe.catalog.rules import load_config
from bucketpipe.catalog.spec import DatasetSpec
from bucketpipe.clean import rawinput
from bucketpipe.clean.assessment import catalog_report, publish_quality, written_report
from bucketpipe.clean.extract import clean_catalog
from bucketpipe.clean.files import clean_files
from bucketpipe.clean.manifest import clean_manifest
from bucketpipe.clean.pending import (
    GROUP,
    all_ingest_manifests,
    closing_inputs,
    collect_pending,
    find_pending,
    processed_inputs,
)
from bucketpipe.clean.plan import ALREADY_CONSUMED, ATTEMPTS, CleanedMeanwhile, Plan, read_heads
from bucketpipe.clean.rawinput import RawInput, raw_view_sql
from bucketpipe.clean.rebuilding import Carry, check_datasets
from bucketpipe.clean.report_rows import commit_reports
from bucketpipe.config.errors import CommitConflict
from bucketpipe.config.scratch import work_database
from bucketpipe.context import Context
from bucketpipe.coord.signals import CLEAN_COMMITTED, Event
from bucketpipe.lake import delta
from bucketpipe.lake.duck import connect
from bucketpipe.lake.memory import max_json_object
from bucketpipe.lake.runs import CLEAN_JOB, INGEST_JOB, DatasetResult, RunManifest
from bucketpipe.lake.storage import scratch_dir
from bucketpipe.quality.report import REPORTS_DATASET, QualityReport, write_report

log = logging.getLogger(__name__)

# The pending work and the consumer group are clean's too; callers import them from here.
__all__ = [
    "GROUP",
    "DatasetHook",
    "clean_inputs",
    "find_pending",
    "processed_inputs",
    "rebuild",
    "run_clean",
]


# --- cleaning ---------------------------------------------------------------------------------
def may_hold_files(manifests: Sequence[RunManifest], only: Sequence[str] | None) -> bool:
    """Whether landed files (generic datasets) can be among the raw lines to clean.

    Looking for them is a pass over every raw line, a large share of a catalog-only rebuild.
    """
    if only is not None:
        known = {s.name for s in catalog.specs()}
        return any(name not in known for name in only)
    return any(
        rawinput.BUCKET_ENDPOINT
        in m.details.get("records_by_endpoint", {rawinput.BUCKET_ENDPOINT: 0})
        for m in manifests
    )


# A step run after the catalog and generic datasets of a clean run (a derived dataset): it gets
# the connection, the context, the run id, the results so far and the scratch directory, and
# returns the results of the datasets it committed. Steps are wired in `bucketpipe.wiring`.
DatasetHook = Callable[
    [duckdb.DuckDBPyConnection, Context, str, dict[str, DatasetResult], Any],
    dict[str, DatasetResult],
]


def clean_inputs(
    ctx: Context,
    manifests: Sequence[RunManifest],
    *,
    plan: Plan,
    run_id: str,
    after_clean: Sequence[DatasetHook],
    only: Sequence[str] | None = None,
    raw: RawInput | None = None,
    owns: Callable[[str], bool] | None = None,
) -> dict[str, DatasetResult]:
    """Clean the raw lines of these ingest runs into every dataset they feed, each dataset
    committed on the version `plan` gives it.

    Catalog datasets first, then the generic datasets of landed files, then the `after_clean`
    steps (derived datasets); each dataset touched gets a quality report (written here,
    before the run's manifest, like every other output). `owns`: clean only the datasets it
    accepts (a shard of a sharded run, `clean.sharding`).
    """
    raw = raw or rawinput.resolve(ctx.store, manifests)
    config = load_config(ctx.settings.clean_config, ctx.settings.source_mapping)
    results: dict[str, DatasetResult] = {}
    reports: dict[str, QualityReport] = {}
    specs = [
        s for s in _specs(manifests, only, rebuild=plan.rebuild) if owns is None or owns(s.name)
    ]
    scratch = scratch_dir(ctx.settings.temp_dir)
    con = connect(ctx.settings, database=work_database(ctx.settings, scratch))
    con.execute("SET TimeZone = 'UTC'")
    try:
        if raw.keys:
            paths = [ctx.store.duckdb_path(k) for k in raw.keys]
            limit = max_json_object(ctx.settings.duckdb_memory_limit)
            view = raw_view_sql(paths, sorted(raw.inputs), max_object_size=limit)
            con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS {view}")
            con.execute(f"CREATE OR REPLACE TABLE _raw_files AS {raw.files_sql()}")
            carry = Carry(con, ctx.store, plan.base) if plan.rebuild else None
            for spec in specs:
                started = time.monotonic()
                cleaned = clean_catalog(
                    con, ctx, spec, plan=plan, run_id=run_id, scratch=scratch, carry=carry
                )
                if cleaned is None:
                    results[spec.name] = DatasetResult(message=ALREADY_CONSUMED)
                    continue
                results[spec.name] = cleaned.result
                # A run that delivered no rows (a plan's 403, an empty calendar) has nothing
                # to score: a report of 0 rows would read as a perfect score.
                if cleaned.measured is not None and cleaned.result.rows_in:
                    report = catalog_report(
                        con,
                        ctx,
                        spec,
                        cleaned.result,
                        run_id,
                        cleaned.measured,
                        cleaned.rejected,
                        cleaned.repeats,
                    )
                    if report is not None:
                        reports[spec.name] = report
                _log_cleaned(spec.name, run_id, cleaned.result, started)
            if may_hold_files(manifests, only):
                generic, generic_reports = clean_files(
                    con,
                    ctx,
                    config=config,
                    plan=plan,
                    run_id=run_id,
                    scratch=scratch,
                    only=only,
                    carry=carry,
                    owns=owns,
                )
                results.update(generic)
                reports.update(generic_reports)
        for step in after_clean:
            results.update(step(con, ctx, run_id, results, scratch))
        for name, result in results.items():
            if name in reports or result.snapshot_version is None:
                continue
            if (report := written_report(con, ctx, name, result, run_id)) is not None:
                reports[name] = report
        if (rows := commit_reports(con, ctx, reports, run_id, scratch)) is not None:
            results[REPORTS_DATASET] = rows
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    for name, report in reports.items():
        write_report(ctx.store, report)
        results[name] = results[name].model_copy(update={"quality_score": report.overall_score})
    return results


def _specs(
    manifests: Sequence[RunManifest], only: Sequence[str] | None, *, rebuild: bool
) -> list[DatasetSpec]:
    """The catalog datasets the run cleans: those its inputs' endpoints feed, or (a rebuild)
    those it names."""
    if rebuild and only is not None:
        # A rebuild names its datasets; their ingest manifests may be archived already.
        return [s for s in catalog.specs() if s.name in only and not s.derived_from]
    endpoints: set[str] = set()
    for manifest in manifests:
        endpoints.update(manifest.details.get("records_by_endpoint", {}))
    return [s for s in catalog.for_endpoints(endpoints) if only is None or s.name in only]


def _log_cleaned(dataset: str, run_id: str, result: DatasetResult, started: float) -> None:
    log.info(
        "dataset cleaned",
        extra={
            "dataset": dataset,
            "run_id": run_id,
            "rows": result.rows_written,
            "quarantined": result.rows_quarantined,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )


def run_clean(
    ctx: Context,
    *,
    run_id: str,
    after_clean: Sequence[DatasetHook],
    consumer: str | None = None,
    force: bool = False,
    limit: int | None = None,
    wait_seconds: float = 0.0,
) -> RunManifest | None:
    """One clean run: lock, collect pending inputs, clean, commit the manifest, announce.

    Returns the manifest, or None when there was nothing to do. The lock only saves work:
    each dataset's commit is a compare-and-swap on its next version (`clean.plan`).
    """
    runlog = ctx.runlog
    if not force and runlog.exists(CLEAN_JOB, run_id):
        log.info("run already committed; nothing to do", extra={"run_id": run_id})
        return None
    started = ctx.now()
    with ctx.writer_lock(wait_seconds=wait_seconds) as lock:
        # The heads first, then the closed inputs: see `clean.plan`.
        heads = read_heads(ctx.store)
        pending = collect_pending(ctx, consumer or run_id, limit=limit)
        ctx.signals.ack(GROUP, pending.stale_event_ids)
        if not pending.manifests:
            _idle(ctx, run_id)
            return None
        plan = Plan(
            ctx.store,
            heads,
            frozenset(pending.closed),
            inputs=tuple(pending.input_ids),
            deadline=Plan.deadline_after(ctx.settings.vacuum_grace_hours),
        )
        results = clean_inputs(
            ctx, pending.manifests, plan=plan, run_id=run_id, after_clean=after_clean
        )
        closing = closing_inputs(ctx, plan, run_id)
        manifest = clean_manifest(
            ctx, run_id, started, closing, results, lock_kind=lock.kind, plan=plan
        )
        key = runlog.write(manifest)
        publish_quality(ctx.store, manifest, ctx.now())
        delta.sync_lake(ctx.store, delta.Policy.from_settings(ctx.settings))
    announce(ctx, manifest, key, pending.event_ids)
    return manifest


def _idle(ctx: Context, run_id: str) -> None:
    log.info("no pending ingest runs", extra={"run_id": run_id})
    ctx.signals.set_status(
        CLEAN_JOB,
        {
            "state": "idle",
            "run_id": run_id,
            "finished_at": ctx.now(),
            "message": "nothing pending",
        },
    )
    # A Delta log left behind by an earlier run (a crash after its commit) catches up.
    delta.sync_lake(ctx.store, delta.Policy.from_settings(ctx.settings))


def rebuild(
    ctx: Context, *, run_id: str, datasets: Sequence[str], after_clean: Sequence[DatasetHook]
) -> RunManifest:
    """Re-clean datasets from raw with today's rules and swap each snapshot in one commit.

    Reads every raw object (run objects and compaction's day archives) but only the lines of
    the ingest runs each dataset had consumed; rows whose raw retention already deleted are
    kept as committed. Readers see the old snapshot or the new one, never a mix. A clean
    that commits the dataset meanwhile makes the rebuild plan it again on the new version;
    when that clean consumed inputs the rebuild has not read, the rebuild starts again from
    the new heads (a dataset it rebuilt already is rebuilt once more, on its own version).
    """
    check_datasets(ctx.store, datasets)
    started = ctx.now()
    with ctx.writer_lock() as lock:
        for _ in range(ATTEMPTS):
            try:
                manifest = _rebuild_once(ctx, run_id, datasets, after_clean, started, lock.kind)
                break
            except CleanedMeanwhile as exc:
                log.info(
                    "inputs cleaned while rebuilding; planning again with them",
                    extra={"dataset": exc.dataset, "inputs": sorted(exc.inputs)},
                )
        else:
            raise CommitConflict(
                f"cleans kept committing while {list(datasets)} was rebuilt; rerun"
            )
        key = ctx.runlog.write(manifest)
        publish_quality(ctx.store, manifest, ctx.now())
        delta.sync_lake(ctx.store, delta.Policy.from_settings(ctx.settings))
    announce(ctx, manifest, key, [])
    return manifest


def _rebuild_once(
    ctx: Context,
    run_id: str,
    datasets: Sequence[str],
    after_clean: Sequence[DatasetHook],
    started: datetime,
    lock_kind: str,
) -> RunManifest:
    """One attempt: read the heads, the inputs they consumed and their raw, clean, commit."""
    heads = read_heads(ctx.store)
    closed = frozenset(processed_inputs(ctx))
    ingested = set(ctx.runlog.ids(INGEST_JOB))
    opened = {i for snap in heads.values() if snap for i in snap.open_inputs}
    readable = ingested & (closed | opened)
    manifests = [m for m in all_ingest_manifests(ctx) if m.input_id in readable]
    raw = rawinput.everything(ctx.store, readable, manifests)
    plan = Plan(
        ctx.store,
        heads,
        closed,
        rebuild=True,
        readable=frozenset(readable),
        deadline=Plan.deadline_after(ctx.settings.vacuum_grace_hours),
    )
    results = clean_inputs(
        ctx, manifests, plan=plan, run_id=run_id, after_clean=after_clean, only=datasets, raw=raw
    )
    manifest = clean_manifest(ctx, run_id, started, [], results, lock_kind=lock_kind)
    manifest.details["rebuild"] = list(datasets)
    manifest.details["ingest_runs_read"] = len(readable)
    manifest.details["raw_objects_read"] = len(raw.keys)
    return manifest


def announce(ctx: Context, manifest: RunManifest, key: str, event_ids: list[str]) -> None:
    signals = ctx.signals
    changed = [name for name, r in manifest.datasets.items() if r.snapshot_version is not None]
    signals.ack(GROUP, event_ids)
    for name in changed:
        signals.bump_version(name)
    signals.publish(
        Event(
            kind=CLEAN_COMMITTED,
            run_id=manifest.run_id,
            job=CLEAN_JOB,
            manifest=key,
            datasets=tuple(changed),
            rows=manifest.rows,
            extra={"inputs": len(manifest.inputs)},
        )
    )
    ctx.publish_status(CLEAN_JOB, manifest)
    log.info(
        "clean committed",
        extra={
            "run_id": manifest.run_id,
            "inputs": len(manifest.inputs),
            "rows": manifest.rows,
            "datasets": changed,
            "duration_s": round(manifest.duration_s, 3),
        },
    )
