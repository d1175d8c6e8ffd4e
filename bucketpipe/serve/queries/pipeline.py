"""Pipeline health: services' last runs, run history, Finnhub endpoints, Redis, lake objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from bucketpipe.context import Context
from bucketpipe.coord.signals import Event
from bucketpipe.lake.census import Census, ObjectCount, estimate, read_census
from bucketpipe.lake.index import read_recent_runs
from bucketpipe.lake.layout import AREAS, CLEAN_CONSUMED_KEY, area_prefix, input_id
from bucketpipe.lake.ledger import read_ledgers
from bucketpipe.lake.runs import CLEAN_JOB, INGEST_JOB, RunManifest
from bucketpipe.serve.status import JobStatus, job_statuses

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


def services(
    ctx: Context, recorded: dict[str, dict[str, Any]] | None = None, *, scan: int = 10
) -> list[Service]:
    """Every job's last committed run, with Redis' live status (running, failed) on top.

    `recorded` is each service's last run as the lake index holds it (no request); without
    it the run manifests are listed and read.
    """
    if recorded is None:
        return [_service(status) for _, status in sorted(job_statuses(ctx, scan=scan).items())]
    live = ctx.signals.statuses()
    found = {
        name: JobStatus(name, RunManifest.model_validate(run), live.get(name, {}))
        for name, run in recorded.items()
    }
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
    message = run.errors[0] if run.errors else output(run.job, run.source, run.rows)
    return Service(status.job, state, run.input_id, run.finished_at, run.rows, message, bool(live))


# Ingest sources that land whole files, one raw record per file (their rows are counted by
# the clean run that reads them).
FILE_SOURCES = frozenset({"bucket"})


def output(job: str | None, source: str | None, count: Any) -> str:
    """What a run's count counts, in words: a clean run's rows, an ingest run's landed files
    (a file source) or raw records (one per API response): `1 file`, `2,373 rows`."""
    n = int(count or 0)
    if job != INGEST_JOB:
        noun = "row"
    elif source in FILE_SOURCES:
        noun = "file"
    else:
        noun = "record"
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def run_history(ctx: Context, limit: int = 50, *, recorded: bool = True) -> pd.DataFrame:
    """The newest runs of every job, newest first: from the recent-runs document written with
    each run manifest (one GET), else (`recorded` false, or no such document) by listing and
    reading the manifests."""
    held = read_recent_runs(ctx.store) if recorded else None
    if held is not None:
        rows = [_summary_row(r) for runs in held.runs.values() for r in runs[:limit]]
    else:
        rows = [
            _run_row(m) for job in ctx.runlog.jobs() for m in ctx.runlog.latest(job, scan=limit)
        ]
    if not rows:
        return pd.DataFrame(columns=[*RUN_COLUMNS, "output"])
    out = pd.DataFrame(rows, columns=RUN_COLUMNS).sort_values("finished_at", ascending=False)
    out["output"] = [
        output(j, s, n) for j, s, n in zip(out["job"], out["source"], out["rows"], strict=True)
    ]
    return out.head(limit).reset_index(drop=True)


RUN_COLUMNS = [
    *("job", "source", "run_id", "status", "started_at", "finished_at", "duration_s"),
    *("rows", "inputs", "datasets", "errors", "first_error"),
]


def _summary_row(run: dict[str, Any]) -> list[Any]:
    started, finished = _time(run.get("started_at")), _time(run.get("finished_at"))
    shard = run.get("shard")
    errors = run.get("errors") or []
    return [
        run.get("job"),
        run.get("source") or "",
        input_id(str(run.get("run_id")), shard if isinstance(shard, int) else None),
        run.get("status"),
        started,
        finished,
        round((finished - started).total_seconds(), 3) if started and finished else None,
        run.get("rows", 0),
        run.get("input_count", 0),
        ", ".join(sorted(run.get("datasets") or {})),
        run.get("error_count", len(errors)),
        errors[0] if errors else "",
    ]


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
    done = ctx.runlog.consumed(CLEAN_JOB, cache_key=CLEAN_CONSUMED_KEY, update_cache=False)
    return sorted(i for i in ctx.runlog.whole_ids(INGEST_JOB) if i not in done)


def endpoint_report(manifests: Iterable[RunManifest]) -> pd.DataFrame:
    """Per dataset, the newest ingest run's account of its endpoint (entitlement, errors)."""
    accounts: dict[str, dict[str, Any]] = {}
    for m in sorted(manifests, key=lambda m: m.finished_at):
        for dataset, entry in m.endpoints.items():
            accounts[dataset] = {**entry, "run_id": m.input_id, "finished_at": m.finished_at}
    return endpoint_table(accounts)


def endpoint_table(accounts: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The endpoint report from each dataset's newest account (with its `run_id` and
    `finished_at`), as the lake index keeps them."""
    rows = []
    for dataset, entry in accounts.items():
        row = {"dataset": dataset, "run_id": entry.get("run_id")}
        row["finished_at"] = _when(entry.get("finished_at"))
        for key in ENDPOINT_ORDER:
            value = entry.get(key)
            if key == "http" and isinstance(value, dict):
                value = ", ".join(f"{code}: {n}" for code, n in sorted(value.items()))
            row[key] = value
        rows.append(row)
    cols = ["dataset", *ENDPOINT_ORDER, "run_id", "finished_at"]
    return pd.DataFrame(rows, columns=cols).sort_values("dataset", ignore_index=True)


def _when(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) or value is None else _time(str(value))


def ingest_manifests(ctx: Context, scan: int = 30) -> list[RunManifest]:
    return ctx.runlog.latest(INGEST_JOB, scan=scan)


def counted_objects(ctx: Context) -> tuple[pd.DataFrame, ObjectCount, Census | None]:
    """Objects per area without listing the bucket: the last census (`bucketpipe compact`
    takes one) plus what the runs' ledgers say was written since; bytes and newest change as
    the census saw them (empty before the first census)."""
    census = read_census(ctx.store)
    count = estimate(census, read_ledgers(ctx.store))
    rows = []
    for area in AREAS:
        rows.append(
            {
                "area": area,
                "objects": count.areas.get(area, 0),
                "bytes": census.bytes.get(area) if census else None,
                "newest": census.newest.get(area) if census else None,
            }
        )
    frame = pd.DataFrame(rows, columns=["area", "objects", "bytes", "newest"])
    return frame, count, census


def object_counts(ctx: Context) -> pd.DataFrame:
    """Objects, bytes and newest change per area of the lake, exact now (one listing per area:
    a LIST request per 1,000 objects; the page runs it only when asked)."""
    rows = []
    for area in AREAS:
        count = size = 0
        newest: datetime | None = None
        for info in ctx.store.list_objects(area_prefix(area)):
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


@dataclass(frozen=True)
class Availability:
    """Why a dataset has rows or not, from the newest ingest run that named its endpoint."""

    dataset: str
    status: str  # ok, not_entitled, failed, skipped, not_due, or "unknown" (never fetched)
    message: str
    at: datetime | None


def availability(
    ctx: Context, dataset: str, recorded: dict[str, dict[str, Any]] | None = None
) -> Availability:
    """The ingest side's account of one dataset (the Finnhub runs record each endpoint).

    `recorded` is each dataset's account as the lake index holds it (no request); without it
    the ingest manifests are listed and read.
    """
    if recorded is not None:
        entry = recorded.get(dataset)
        if entry is None:
            return Availability(dataset, "unknown", "", None)
        message = entry.get("message")
        return Availability(
            dataset,
            str(entry.get("status") or "unknown"),
            message if isinstance(message, str) else "",
            _time(entry.get("finished_at")),
        )
    report = endpoint_report(ingest_manifests(ctx))
    found = report[report["dataset"] == dataset]
    if found.empty:
        return Availability(dataset, "unknown", "", None)
    row = found.iloc[-1]
    message = row.get("message")
    return Availability(
        dataset,
        str(row.get("status") or "unknown"),
        str(message) if isinstance(message, str) else "",
        row.get("finished_at"),
    )
