"""`bucketpipe status`: last runs per job and the committed datasets."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from bucketpipe.config.settings import Settings
from bucketpipe.jobs.common import EXIT_OK, context
from bucketpipe.serve.status import StatusReport, collect


def register(sub: Any) -> None:
    parser = sub.add_parser("status", help="show the last runs and the committed datasets")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    with context(settings) as ctx:
        report = collect(ctx)
    if args.json:
        sys.stdout.write(json.dumps(as_dict(report), indent=2, default=str) + "\n")
    else:
        render(report, Console(file=sys.stdout, width=140))
    return EXIT_OK


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
            message[:60],
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
