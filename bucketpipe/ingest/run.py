"""Landing an ingest run: upload its raw object, write its manifest, then signal Redis."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from typing import Any

from bucketpipe.context import Context
from bucketpipe.coord.signals import INGEST_COMMITTED, Event
from bucketpipe.lake.layout import input_id, raw_key
from bucketpipe.lake.raw import RawWriter
from bucketpipe.lake.runs import INGEST_JOB, RunManifest, RunStatus

log = logging.getLogger(__name__)
# A CronJob names its Jobs `<cronjob>-<minutes since the epoch of the scheduled time>`.
_CRONJOB_SUFFIX = re.compile(r"-(\d{8,10})$")


def run_day(run_id: str, started_at: datetime) -> date:
    """The day a run belongs to: its CronJob schedule when the id encodes one, else its start.

    A retried pod may start after midnight; deriving the day from the schedule keeps every key
    of the run the same across retries.
    """
    match = _CRONJOB_SUFFIX.search(run_id)
    if match:
        minutes = int(match.group(1))
        scheduled = datetime.fromtimestamp(minutes * 60, UTC)
        if 2020 <= scheduled.year <= 2100:
            return scheduled.date()
    return started_at.astimezone(UTC).date()


def already_committed(ctx: Context, run_id: str, shard: int | None) -> RunManifest | None:
    """The manifest of this run if it was committed before (the run is then a no-op)."""
    runlog = ctx.runlog
    ident = input_id(run_id, shard)
    if not runlog.exists(INGEST_JOB, ident):
        return None
    try:
        return runlog.read(INGEST_JOB, ident)
    except Exception:
        return None


def commit_ingest(
    ctx: Context,
    *,
    source: str,
    run_id: str,
    writer: RawWriter,
    started_at: datetime,
    shard: int | None = None,
    shards: int | None = None,
    status: RunStatus = "succeeded",
    endpoints: dict[str, dict[str, Any]] | None = None,
    errors: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> RunManifest:
    """Upload the raw object, write the manifest (the commit), then announce it."""
    writer.close()
    outputs: list[str] = []
    timings: dict[str, float] = {}
    if writer.count:
        key = raw_key(source, run_day(run_id, started_at), run_id, shard)
        t0 = datetime.now(UTC)
        ctx.store.upload(key, writer.path, content_type="application/gzip")
        timings["upload_s"] = (datetime.now(UTC) - t0).total_seconds()
        outputs.append(key)
    writer.discard()
    manifest = RunManifest(
        job=INGEST_JOB,
        run_id=run_id,
        source=source,
        shard=shard,
        shards=shards,
        status=status,
        started_at=started_at,
        finished_at=ctx.now(),
        outputs=outputs,
        rows=writer.count,
        endpoints=endpoints or {},
        errors=errors or [],
        timings=timings,
        redis=ctx.signals.state,
        details={"records_by_endpoint": writer.by_endpoint, **(details or {})},
    )
    manifest_key = ctx.runlog.write(manifest)
    event_id = ctx.signals.publish(
        Event(
            kind=INGEST_COMMITTED,
            run_id=manifest.input_id,
            job=f"ingest-{source}",
            manifest=manifest_key,
            rows=manifest.rows,
            extra={"source": source, "status": status},
        )
    )
    ctx.publish_status(f"ingest-{source}", manifest)
    log.info(
        "ingest committed",
        extra={
            "run_id": manifest.input_id,
            "source": source,
            "rows": manifest.rows,
            "status": status,
            "duration_s": round(manifest.duration_s, 3),
            "event": event_id or f"not sent (redis {ctx.signals.state})",
        },
    )
    return manifest


def ingest_demo(
    ctx: Context,
    *,
    run_id: str,
    symbols: list[str],
    days: int,
    interval_minutes: int,
    seed: int,
    defects: bool = True,
    force: bool = False,
) -> RunManifest | None:
    """Land one run of the offline demo market; None if this run id was already committed."""
    from bucketpipe.ingest.demo.generate import SOURCE, DemoConfig, generate
    from bucketpipe.lake.layout import input_id as make_input_id
    from bucketpipe.lake.storage import scratch_dir

    if not force and already_committed(ctx, run_id, None) is not None:
        log.info("run already committed; nothing to do (use --force)", extra={"run_id": run_id})
        return None
    started = ctx.now()
    config = DemoConfig(
        symbols=symbols,
        days=days,
        interval_minutes=interval_minutes,
        seed=seed,
        end=started,
        defects=defects,
    )
    ctx.announce_running(f"ingest-{SOURCE}", run_id)
    log.info(
        "generating demo market", extra={"run_id": run_id, "symbols": len(symbols), "days": days}
    )
    writer = RawWriter(scratch_dir(ctx.settings.temp_dir))
    try:
        for record in generate(config, make_input_id(run_id, None)):
            writer.write(record)
        return commit_ingest(
            ctx,
            source=SOURCE,
            run_id=run_id,
            writer=writer,
            started_at=started,
            details={"symbols": symbols, "days": days, "interval_minutes": interval_minutes},
        )
    finally:
        writer.discard()
