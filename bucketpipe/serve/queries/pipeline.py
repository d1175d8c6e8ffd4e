"""Pipeline health: services' last runs, run history, Finnhub endpoints, Redis, lake objects."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from bucketpipe.clean.job import CLEAN_JOB, PROCESSED_CACHE
from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.context import Context
from bucketpipe.coord.signals import Event
from bucketpipe.ingest.run import INGEST_JOB
from bucketpipe.lake.layout import AREAS, RUNS
from bucketpipe.lake.runs import RunManifest
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.status import JobStatus, latest_manifests

Colour = Literal["green", "blue", "orange", "gray", "red"]
# Colour of each state, shared by the sidebar and the tables.
STATE_COLOURS: dict[str, Colour] = {
    "succeeded": "green",
    "running": "blue",
    "partial": "orange",
    "noop": "gray",
    "failed": "red",
    "never run": "gray",
}
ENDPOINT_ORDER = (
    "status",
    "endpoint",
    "path",
    "premium",
    "planned",
    "calls",
    "ok",
    "errors",
    "skipped",
    "retries",
    "http",
    "message",
)


@dataclass(frozen=True)
class Service:
    """One job (ingest split by source) as the sidebar shows it."""

    name: str
    state: str
    run_id: str | None
    finished_at: datetime | None
    rows: int | None
    message: str
    live: bool

    @property
    def colour(self) -> Colour:
        return STATE_COLOURS.get(self.state, "gray")


def jobs(store: ObjectStore) -> list[str]:
    return [d.rstrip("/").rsplit("/", 1)[-1] for d in store.list_dirs(f"{RUNS}/")]


def services(ctx: Context, *, scan: int = 10) -> list[Service]:
    """Every job's last committed run, with Redis' live status (running, failed) on top."""
    live = ctx.signals.statuses()
    found: dict[str, JobStatus] = {}
    for job in jobs(ctx.store):
        for manifest in latest_manifests(ctx, job, scan=scan):
            name = f"{job}-{manifest.source}" if manifest.source else job
            found.setdefault(name, JobStatus(job=name, last_run=manifest, live=live.get(name, {})))
    for name, fields in live.items():
        found.setdefault(name, JobStatus(job=name, last_run=None, live=fields))
    return [_service(status) for _, status in sorted(found.items())]


def _service(status: JobStatus) -> Service:
    run = status.last_run
    live = status.live
    state = status.state
    if state in {"running", "failed"} and live:
        message = live.get("message") or ("running" if state == "running" else "failed")
        return Service(
            status.job,
            state,
            live.get("run_id"),
            _time(live.get("finished_at")),
            None,
            message,
            True,
        )
    if run is None:
        return Service(status.job, state, live.get("run_id"), None, None, "", bool(live))
    message = run.errors[0] if run.errors else f"{run.rows:,} row{'' if run.rows == 1 else 's'}"
    return Service(status.job, state, run.input_id, run.finished_at, run.rows, message, bool(live))


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def run_history(ctx: Context, limit: int = 50) -> pd.DataFrame:
    """The newest runs of every job, newest first."""
    rows = []
    for job in jobs(ctx.store):
        for m in latest_manifests(ctx, job, scan=limit):
            rows.append(_run_row(m))
    cols = ["job", "source", "run_id", "status", "started_at", "finished_at", "duration_s"]
    cols += ["rows", "inputs", "datasets", "errors", "first_error"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows, columns=cols).sort_values("finished_at", ascending=False)
    return out.head(limit).reset_index(drop=True)


def _run_row(m: RunManifest) -> list[Any]:
    return [
        m.job,
        m.source or "",
        m.input_id,
        m.status,
        m.started_at,
        m.finished_at,
        round(m.duration_s, 3),
        m.rows,
        len(m.inputs),
        ", ".join(sorted(m.datasets)),
        len(m.errors),
        m.errors[0] if m.errors else "",
    ]


def waiting_for_clean(ctx: Context) -> list[str]:
    """Input ids of committed ingest runs that no committed clean run consumed (read-only)."""
    try:
        cache = json.loads(ctx.store.get(PROCESSED_CACHE))
    except (ObjectNotFound, ValueError):
        cache = {}
    seen = set(cache.get("runs", []))
    done = set(cache.get("inputs", []))
    for key in ctx.runlog.manifest_keys(CLEAN_JOB):
        if key.rsplit("/", 1)[-1].removesuffix(".json") in seen:
            continue
        try:
            done.update(RunManifest.model_validate_json(ctx.store.get(key)).inputs)
        except (ObjectNotFound, ValueError):
            continue
    for entry in ctx.runlog.archived(CLEAN_JOB):
        done.update(entry.get("inputs", []))
    ingested = [
        k.rsplit("/", 1)[-1].removesuffix(".json") for k in ctx.runlog.manifest_keys(INGEST_JOB)
    ]
    return sorted(i for i in ingested if i not in done)


def endpoint_report(manifests: Iterable[RunManifest]) -> pd.DataFrame:
    """Per dataset, the newest ingest run's account of its endpoint (entitlement, errors)."""
    rows: dict[str, dict[str, Any]] = {}
    for m in sorted(manifests, key=lambda m: m.finished_at):
        for dataset, entry in m.endpoints.items():
            row = {"dataset": dataset, "run_id": m.input_id, "finished_at": m.finished_at}
            for key in ENDPOINT_ORDER:
                value = entry.get(key)
                if key == "http" and isinstance(value, dict):
                    value = ", ".join(f"{code}: {n}" for code, n in sorted(value.items()))
                row[key] = value
            rows[dataset] = row
    cols = ["dataset", *ENDPOINT_ORDER, "run_id", "finished_at"]
    return pd.DataFrame(list(rows.values()), columns=cols).sort_values("dataset", ignore_index=True)


def ingest_manifests(ctx: Context, scan: int = 30) -> list[RunManifest]:
    return latest_manifests(ctx, INGEST_JOB, scan=scan)


def object_counts(ctx: Context) -> pd.DataFrame:
    """Objects, bytes and newest change per area of the lake (one listing per area)."""
    rows = []
    for area in AREAS:
        count = size = 0
        newest: datetime | None = None
        for info in ctx.store.list_objects(f"{area}/"):
            count += 1
            size += info.size
            if newest is None or info.last_modified > newest:
                newest = info.last_modified
        rows.append({"area": area, "objects": count, "bytes": size, "newest": newest})
    return pd.DataFrame(rows, columns=["area", "objects", "bytes", "newest"])


def events_frame(events: Iterable[Event]) -> pd.DataFrame:
    """Recent Redis events as a table, newest first."""
    rows = [
        {
            "at": e.at,
            "kind": e.kind,
            "job": e.job,
            "run_id": e.run_id,
            "datasets": ", ".join(e.datasets),
            "rows": e.rows,
            "detail": ", ".join(f"{k}={v}" for k, v in e.extra.items()),
        }
        for e in events
    ]
    cols = ["at", "kind", "job", "run_id", "datasets", "rows", "detail"]
    return pd.DataFrame(rows, columns=cols)


def recent_events(ctx: Context, count: int = 50) -> pd.DataFrame:
    """The newest Redis events (empty when Redis is off)."""
    return events_frame(ctx.signals.recent_events(count))


def live_statuses(ctx: Context) -> pd.DataFrame:
    """Redis' status hashes, one row per job (empty when Redis is off)."""
    statuses = ctx.signals.statuses()
    rows = [{"job": job, **fields} for job, fields in sorted(statuses.items())]
    return pd.DataFrame(rows)
