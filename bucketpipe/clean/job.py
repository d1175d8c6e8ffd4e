"""The clean job: find committed ingest runs not yet cleaned, clean them, commit, announce.

The work list comes from the bucket (`_runs/ingest/` minus the inputs of committed clean runs);
the Redis stream only wakes the job sooner and is acked after the commit. Losing Redis loses
nothing.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from bucketpipe.catalog import spec as catalog
from bucketpipe.catalog.spec import DatasetSpec
from bucketpipe.clean import rawinput
from bucketpipe.clean.assessment import (
    ACCEPTED_ROWS,
    catalog_report,
    measure_accepted,
    publish_quality,
    written_report,
)
from bucketpipe.clean.config import load_config
from bucketpipe.clean.engine import Target, merge_rows, write_quarantine
from bucketpipe.clean.files import clean_files
from bucketpipe.clean.memory import max_json_object
from bucketpipe.clean.rawinput import RawInput
from bucketpipe.clean.rebuilding import Carry, check_datasets
from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.context import Context
from bucketpipe.coord.locks import writer_lock
from bucketpipe.coord.signals import CLEAN_COMMITTED, INGEST_COMMITTED, Event
from bucketpipe.ingest.run import INGEST_JOB, publish_status
from bucketpipe.lake import delta
from bucketpipe.lake.duck import connect, quote_literal, sql_list
from bucketpipe.lake.layout import RUNS, input_id, state_key
from bucketpipe.lake.raw import RAW_COLUMNS
from bucketpipe.lake.runs import DatasetResult, RunManifest
from bucketpipe.lake.snapshots import discard_orphans, list_datasets
from bucketpipe.lake.storage import scratch_dir
from bucketpipe.quality.report import Measured, QualityReport, write_report

log = logging.getLogger(__name__)

CLEAN_JOB = "clean"
GROUP = "clean"
LOCK = "writer"
PROCESSED_CACHE = state_key("clean", "processed.json")


@dataclass
class Pending:
    """Committed ingest inputs waiting to be cleaned, and the stream entries announcing them."""

    manifests: list[RunManifest] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    stale_event_ids: list[str] = field(default_factory=list)

    @property
    def input_ids(self) -> list[str]:
        return [m.input_id for m in self.manifests]


# --- what has been cleaned --------------------------------------------------------------------
def processed_inputs(ctx: Context) -> set[str]:
    """Input ids consumed by committed clean runs (from manifests, cached in `_state/`).

    Whole manifests are read once each; day archives (retention folds old manifests into
    them) are read again only when their ETag changed.
    """
    store = ctx.store
    try:
        cache = json.loads(store.get(PROCESSED_CACHE))
    except (ObjectNotFound, ValueError):
        cache = {}
    seen_runs: set[str] = set(cache.get("runs", []))
    inputs: set[str] = set(cache.get("inputs", []))
    archives: dict[str, str] = dict(cache.get("archives", {}))
    changed = False
    for key in ctx.runlog.manifest_keys(CLEAN_JOB):
        run = key.rsplit("/", 1)[-1].removesuffix(".json")
        if run in seen_runs:
            continue
        try:
            manifest = RunManifest.model_validate_json(store.get(key))
        except (ObjectNotFound, ValueError):
            continue
        inputs.update(manifest.inputs)
        seen_runs.add(run)
        changed = True
    for info in store.list_objects(f"{RUNS}/{CLEAN_JOB}/_archive/"):
        if archives.get(info.key) == info.etag:
            continue
        try:
            for line in gzip.decompress(store.get(info.key)).splitlines():
                if line.strip():
                    inputs.update(json.loads(line).get("inputs", []))
        except (ObjectNotFound, OSError, ValueError):
            continue
        archives[info.key] = info.etag
        changed = True
    if changed:
        body = {"runs": sorted(seen_runs), "inputs": sorted(inputs), "archives": archives}
        store.put(PROCESSED_CACHE, json.dumps(body).encode(), "application/json")
    return inputs


def find_pending(ctx: Context, *, limit: int | None = None) -> list[RunManifest]:
    """Committed ingest runs not yet cleaned, oldest first (reconciliation with the bucket)."""
    done = processed_inputs(ctx)
    manifests: list[RunManifest] = []
    for key in ctx.runlog.manifest_keys(INGEST_JOB):
        ident = key.rsplit("/", 1)[-1].removesuffix(".json")
        if ident in done:
            continue
        try:
            manifests.append(RunManifest.model_validate_json(ctx.store.get(key)))
        except (ObjectNotFound, ValueError) as exc:
            log.warning("unreadable ingest manifest skipped", extra={"key": key, "error": str(exc)})
    manifests.sort(key=lambda m: (m.finished_at, m.input_id))
    return manifests[:limit] if limit else manifests


def collect_pending(ctx: Context, consumer: str, *, limit: int | None = None) -> Pending:
    """Stream entries (own pending, new, abandoned) plus reconciliation against the bucket."""
    signals = ctx.signals
    events: list[Event] = []
    if signals.configured:
        events += signals.pending_events(GROUP, consumer)
        events += signals.read_group(GROUP, consumer, count=1000)
        events += signals.claim_abandoned(
            GROUP, consumer, min_idle_ms=ctx.settings.lock_ttl_seconds * 1000
        )
    pending = Pending(manifests=find_pending(ctx, limit=limit))
    waiting = set(pending.input_ids)
    for event in events:
        if event.id is None:
            continue
        if event.kind == INGEST_COMMITTED and event.run_id in waiting:
            pending.event_ids.append(event.id)
        else:
            # Already cleaned, or not an ingest event: nothing to wait for.
            pending.stale_event_ids.append(event.id)
    return pending


# --- cleaning ---------------------------------------------------------------------------------
# The ingest runs a catalog dataset's staged rows came from (accepted or quarantined).
STAGED_RUNS = "SELECT DISTINCT _ingest_run FROM _staged WHERE _ingest_run IS NOT NULL"


def raw_view_sql(
    paths: Sequence[str],
    inputs: Iterable[str] | None = None,
    *,
    max_object_size: int = 67108864,
) -> str:
    """A view of raw lines from the given objects (only `inputs` when given: archives)."""
    columns = (
        "{"
        + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in RAW_COLUMNS.items())
        + "}"
    )
    sql = (
        f"SELECT * FROM read_json({sql_list(list(paths))}, format = 'newline_delimited', "
        f"columns = {columns}, maximum_object_size = {int(max_object_size)})"
    )
    if inputs is not None:
        sql += f" WHERE run IN ({', '.join(quote_literal(i) for i in inputs)})"
    return sql


@dataclass
class Cleaned:
    """A catalog dataset's result, and the profile of its accepted rows for the report."""

    result: DatasetResult
    measured: Measured | None


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
    q_key, q_rows = write_quarantine(
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
    )
    reasons = con.execute(
        "SELECT _reject_reason, count(*) FROM _staged WHERE _reject_reason IS NOT NULL "
        "GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
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
        # The staged rows are profiled while they exist, then dropped: the batch holds every
        # row still needed, and the write gets the memory (a large rebuild spills less).
        # Without carried rows the batch's keys are exactly the accepted rows' distinct keys.
        known = None if carry_sql else distinct_keys
        measured.append(measure_accepted(con, ctx, spec, known_distinct_keys=known))
        con.execute(f"DROP VIEW IF EXISTS _merge; DROP VIEW {ACCEPTED_ROWS}; DROP TABLE _staged")

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
    result = outcome.result()
    result.rows_in = rows_in
    result.rows_quarantined = q_rows
    if q_key:
        result.message = f"{q_rows} rows quarantined ({q_key})"
        result.quarantine_reasons = {str(r): int(n) for r, n in reasons}  # type: ignore[attr-defined]
    return Cleaned(result, measured[0] if measured else None)


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


DatasetHook = Callable[
    [duckdb.DuckDBPyConnection, Context, str, dict[str, DatasetResult], Any],
    dict[str, DatasetResult],
]
# Steps run after the catalog datasets: derived datasets (daily bars, indicators), quality.
AFTER_CLEAN: list[DatasetHook] = []


def clean_inputs(
    ctx: Context,
    manifests: Sequence[RunManifest],
    *,
    run_id: str,
    only: Sequence[str] | None = None,
    replace_all: bool = False,
    raw: RawInput | None = None,
) -> dict[str, DatasetResult]:
    """Clean the raw lines of these ingest runs into every dataset they feed.

    Catalog datasets first, then the generic datasets of landed files, then the hooks
    (derived datasets); each dataset touched gets a quality report (written here, before the
    run's manifest, like every other output).
    """
    raw = raw or rawinput.resolve(ctx.store, manifests)
    config = load_config(ctx.settings.clean_config, ctx.settings.source_mapping)
    results: dict[str, DatasetResult] = {}
    reports: dict[str, QualityReport] = {}
    endpoints: set[str] = set()
    for manifest in manifests:
        endpoints.update(manifest.details.get("records_by_endpoint", {}))
    if replace_all and only is not None:
        # A rebuild names its datasets; their ingest manifests may be archived already.
        specs = [s for s in catalog.specs() if s.name in only and not s.derived_from]
    else:
        specs = [s for s in catalog.for_endpoints(endpoints) if only is None or s.name in only]
    scratch = scratch_dir(ctx.settings.temp_dir)
    con = connect(ctx.settings)
    con.execute("SET TimeZone = 'UTC'")
    try:
        if raw.keys:
            paths = [ctx.store.duckdb_path(k) for k in raw.keys]
            limit = max_json_object(ctx.settings.duckdb_memory_limit)
            view = raw_view_sql(paths, sorted(raw.inputs), max_object_size=limit)
            con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS {view}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE _raw_files AS {raw.files_sql()}")
            carry = Carry(con, ctx.store) if replace_all else None
            for spec in specs:
                started = time.monotonic()
                cleaned = clean_spec(
                    con,
                    ctx,
                    spec,
                    run_id=run_id,
                    scratch=scratch,
                    replace_all=replace_all,
                    carry=carry,
                )
                results[spec.name] = cleaned.result
                report = None
                if cleaned.measured is not None:
                    report = catalog_report(
                        con, ctx, spec, cleaned.result, run_id, cleaned.measured
                    )
                if report is not None:
                    reports[spec.name] = report
                log.info(
                    "dataset cleaned",
                    extra={
                        "dataset": spec.name,
                        "run_id": run_id,
                        "rows": results[spec.name].rows_written,
                        "quarantined": results[spec.name].rows_quarantined,
                        "duration_s": round(time.monotonic() - started, 3),
                    },
                )
            if may_hold_files(manifests, only):
                generic, generic_reports = clean_files(
                    con,
                    ctx,
                    config=config,
                    run_id=run_id,
                    scratch=scratch,
                    only=only,
                    replace_all=replace_all,
                    carry=carry,
                )
                results.update(generic)
                reports.update(generic_reports)
        for hook in AFTER_CLEAN:
            results.update(hook(con, ctx, run_id, results, scratch))
        for name, result in results.items():
            if name in reports or result.snapshot_version is None:
                continue
            if (report := written_report(con, ctx, name, result, run_id)) is not None:
                reports[name] = report
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    for name, report in reports.items():
        write_report(ctx.store, report)
        results[name].quality_score = report.overall_score
    return results


def run_clean(
    ctx: Context,
    *,
    run_id: str,
    consumer: str | None = None,
    force: bool = False,
    limit: int | None = None,
    wait_seconds: float = 0.0,
) -> RunManifest | None:
    """One clean run: lock, collect pending inputs, clean, commit the manifest, announce.

    Returns the manifest, or None when there was nothing to do.
    """
    runlog = ctx.runlog
    if not force and runlog.exists(CLEAN_JOB, run_id):
        log.info("run already committed; nothing to do", extra={"run_id": run_id})
        return None
    started = ctx.now()
    with writer_lock(
        LOCK,
        store=ctx.store,
        signals=ctx.signals,
        ttl_seconds=ctx.settings.lock_ttl_seconds,
        wait_seconds=wait_seconds,
    ) as lock:
        for dataset in list_datasets(ctx.store):
            discard_orphans(ctx.store, dataset)
        pending = collect_pending(ctx, consumer or run_id, limit=limit)
        ctx.signals.ack(GROUP, pending.stale_event_ids)
        if not pending.manifests:
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
            return None
        results = clean_inputs(ctx, pending.manifests, run_id=run_id)
        manifest = _manifest(ctx, run_id, started, pending.input_ids, results, lock_kind=lock.kind)
        key = runlog.write(manifest)
        publish_quality(ctx.store, manifest, ctx.now())
        delta.sync_lake(ctx.store, delta.Policy.from_settings(ctx.settings))
    _announce(ctx, manifest, key, pending.event_ids)
    return manifest


def rebuild(ctx: Context, *, run_id: str, datasets: Sequence[str]) -> RunManifest:
    """Re-clean datasets from raw with today's rules and swap each snapshot in one commit.

    Reads every raw object (run objects and compaction's day archives) but only the lines of
    ingest runs that clean had consumed; rows whose raw retention already deleted are kept as
    committed. Readers see the old snapshot or the new one, never a mix.
    """
    check_datasets(ctx.store, datasets)
    started = ctx.now()
    with writer_lock(
        LOCK, store=ctx.store, signals=ctx.signals, ttl_seconds=ctx.settings.lock_ttl_seconds
    ) as lock:
        for dataset in datasets:
            discard_orphans(ctx.store, dataset)
        committed = set(ctx.runlog.ids(INGEST_JOB)) & processed_inputs(ctx)
        manifests = [m for m in _all_ingest_manifests(ctx) if m.input_id in committed]
        raw = rawinput.everything(ctx.store, committed, manifests)
        results = clean_inputs(
            ctx, manifests, run_id=run_id, only=datasets, replace_all=True, raw=raw
        )
        manifest = _manifest(ctx, run_id, started, [], results, lock_kind=lock.kind)
        manifest.details["rebuild"] = list(datasets)
        manifest.details["ingest_runs_read"] = len(committed)
        manifest.details["raw_objects_read"] = len(raw.keys)
        key = ctx.runlog.write(manifest)
        publish_quality(ctx.store, manifest, ctx.now())
        delta.sync_lake(ctx.store, delta.Policy.from_settings(ctx.settings))
    _announce(ctx, manifest, key, [])
    return manifest


def _all_ingest_manifests(ctx: Context) -> list[RunManifest]:
    out = []
    for key in ctx.runlog.manifest_keys(INGEST_JOB):
        try:
            out.append(RunManifest.model_validate_json(ctx.store.get(key)))
        except (ObjectNotFound, ValueError):
            continue
    return out


def _manifest(
    ctx: Context,
    run_id: str,
    started: datetime,
    inputs: list[str],
    results: dict[str, DatasetResult],
    *,
    lock_kind: str,
) -> RunManifest:
    failed = [name for name, r in results.items() if r.status == "failed"]
    return RunManifest(
        job=CLEAN_JOB,
        run_id=run_id,
        status="partial" if failed else "succeeded",
        started_at=started,
        finished_at=ctx.now(),
        inputs=inputs,
        outputs=[],
        rows=sum(r.rows_written for r in results.values()),
        datasets=results,
        errors=[f"{name}: {results[name].message}" for name in failed],
        redis=ctx.signals.state,
        details={"lock": lock_kind},
    )


def _announce(ctx: Context, manifest: RunManifest, key: str, event_ids: list[str]) -> None:
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
    publish_status(ctx, CLEAN_JOB, manifest)
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


def manifest_prefix() -> str:
    return f"{RUNS}/{CLEAN_JOB}/"


def ingest_input_id(manifest: RunManifest) -> str:
    return input_id(manifest.run_id, manifest.shard)
