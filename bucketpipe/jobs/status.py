"""`bucketpipe status`: last runs per job and the committed datasets."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.logs import printable
from bucketpipe.config.settings import Settings
from bucketpipe.jobs.argtypes import positive_float
from bucketpipe.jobs.common import EXIT_FAILED, EXIT_OK, context
from bucketpipe.jobs.expectations import expectations
from bucketpipe.lake.census import ObjectUsage, count_objects, usage
from bucketpipe.serve import ops
from bucketpipe.serve.health import age as short_age
from bucketpipe.serve.health import problems
from bucketpipe.serve.status import StatusReport, collect


def register(sub: Any) -> None:
    parser = sub.add_parser("status", help="show the last runs and the committed datasets")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    check = parser.add_argument_group("health check (exit 0 healthy, 1 not; one line per problem)")
    check.add_argument(
        "--check",
        action="store_true",
        help="check that every job's last run succeeded and every job and dataset is fresh",
    )
    check.add_argument(
        "--max-age",
        type=positive_float,
        metavar="MINUTES",
        help="stale past this age, instead of BUCKETPIPE_STALE_AFTER_INTERVALS x each one's "
        "expected interval",
    )
    check.add_argument(
        "--job",
        action="append",
        metavar="JOB",
        help="check only this job (repeatable; e.g. clean) and not the datasets",
    )
    check.add_argument(
        "--heartbeat",
        metavar="PATH",
        help="check only that PATH (`clean --watch --heartbeat-file`) changed within --max-age "
        "minutes (default 5): a liveness probe that needs neither lake nor Redis",
    )
    check.add_argument("--at", help="check as of this ISO time instead of now (what-ifs, tests)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    if args.heartbeat:
        return _report(heartbeat_problems(Path(args.heartbeat), args.max_age or 5.0, _at(args)))
    if args.check:
        expect = expectations(settings, max_age_minutes=args.max_age)
        with context(settings) as ctx:
            view = ops.collect(ctx.store, ctx.signals, ctx.now())
        jobs = set(args.job) if args.job else None
        if jobs is not None:
            check_jobs(jobs, {*expect.jobs, "rebuild", *(j.job for j in view.jobs)})
        return _report(problems(view, expect, _at(args), jobs=jobs, datasets=jobs is None))
    with context(settings) as ctx:
        report = collect(ctx)
        objects = usage(
            count_objects(ctx.store), settings.lake_object_limit, settings.lake_object_warn_percent
        )
    if args.json:
        body = {**as_dict(report), "objects": _objects(objects)}
        sys.stdout.write(json.dumps(body, indent=2, default=str) + "\n")
    else:
        console = Console(file=sys.stdout, width=140)
        render(report, console)
        colour = {"ok": "green", "warning": "yellow", "full": "red"}[objects.level]
        console.print(f"[bold]Objects[/bold] [{colour}]{objects.message}[/]")
    return EXIT_OK


def check_jobs(names: set[str], known: set[str]) -> None:
    """A job name that no schedule, setting or run knows is a typo, not a job that never ran."""
    unknown = sorted(names - known)
    if unknown:
        raise ConfigError(f"--job: unknown job {unknown[0]!r}; known: {', '.join(sorted(known))}")


def _at(args: argparse.Namespace) -> datetime:
    if not args.at:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(args.at)
    except ValueError:
        raise ConfigError(f"--at: not an ISO time: {args.at!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _report(found: list[str]) -> int:
    for line in found:
        sys.stdout.write(line + "\n")
    if not found:
        sys.stdout.write("healthy\n")
    return EXIT_FAILED if found else EXIT_OK


def heartbeat_problems(path: Path, max_age_minutes: float, now: datetime) -> list[str]:
    try:
        changed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return [f"heartbeat {path}: missing"]
    limit = timedelta(minutes=max_age_minutes)
    if now - changed > limit:
        return [
            f"heartbeat {path}: last beat {short_age(now - changed)} ago (expected within "
            f"{short_age(limit)})"
        ]
    return []


def _objects(objects: ObjectUsage) -> dict[str, Any]:
    return {
        "total": objects.count.total,
        "areas": objects.count.areas,
        "counted_at": objects.count.counted_at,
        "method": objects.count.method,
        "limit": objects.limit,
        "ratio": round(objects.ratio, 6),
        "level": objects.level,
    }


def age(moment: datetime | None, now: datetime) -> str:
    """'5s', '12m', '3h', '2d' ago."""
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def as_dict(report: StatusReport) -> dict[str, Any]:
    return {
        "lake": report.lake,
        "redis": report.redis,
        "generated_at": report.generated_at,
        "jobs": [
            {
                "job": job.job,
                "state": job.state,
                "run_id": job.last_run.input_id if job.last_run else job.live.get("run_id"),
                "finished_at": job.last_run.finished_at if job.last_run else None,
                "rows": job.last_run.rows if job.last_run else None,
                "errors": job.last_run.errors if job.last_run else [],
                "live": job.live,
            }
            for job in report.jobs
        ],
        "datasets": [
            {
                "dataset": d.name,
                "version": d.version,
                "rows": d.rows,
                "files": d.files,
                "bytes": d.bytes,
                "updated_at": d.updated_at,
                "newest_event": d.max_time,
            }
            for d in report.datasets
        ],
    }


def render(report: StatusReport, console: Console) -> None:
    now = report.generated_at
    console.print(f"[bold]Lake[/bold] {report.lake}    [bold]Redis[/bold] {report.redis}")
    jobs = Table(title="Jobs", title_justify="left")
    for column in ("job", "state", "last run", "finished", "rows", "message"):
        jobs.add_column(column)
    colour = {"succeeded": "green", "partial": "yellow", "failed": "red", "running": "cyan"}
    for job in report.jobs:
        run = job.last_run
        message = (run.errors[0] if run and run.errors else job.live.get("message", "")) or ""
        jobs.add_row(
            job.job,
            f"[{colour.get(job.state, 'white')}]{job.state}[/]",
            run.input_id if run else job.live.get("run_id", "-"),
            f"{age(run.finished_at, now)} ago" if run else "-",
            str(run.rows) if run else "-",
            Text(printable(message[:60])),  # a run's error may quote a stranger's file name
        )
    if not report.jobs:
        jobs.add_row("-", "no runs yet", "", "", "", "try: bucketpipe ingest demo")
    console.print(jobs)
    datasets = Table(title="Datasets", title_justify="left")
    for column in ("dataset", "version", "rows", "files", "size", "newest event", "committed"):
        datasets.add_column(
            column, justify="right" if column in {"rows", "files", "size"} else "left"
        )
    for d in report.datasets:
        datasets.add_row(
            d.name,
            str(d.version),
            f"{d.rows:,}",
            str(d.files),
            human_bytes(d.bytes),
            d.max_time.strftime("%Y-%m-%d %H:%M") if d.max_time else "-",
            f"{age(d.updated_at, now)} ago",
        )
    if not report.datasets:
        datasets.add_row("-", "", "", "", "", "", "run: bucketpipe clean")
    console.print(datasets)
