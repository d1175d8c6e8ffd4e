"""`bucketpipe clean`: clean pending ingest runs, or rebuild datasets from raw."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from bucketpipe.clean.job import rebuild, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.jobs.common import EXIT_FAILED, EXIT_OK, add_run_id, context, run_id_for
from bucketpipe.jobs.outcomes import Reporter, RunEnd
from bucketpipe.lake.runs import utcnow
from bucketpipe.wiring import AFTER_CLEAN

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "clean",
        help="clean committed ingest runs into typed, partitioned Parquet",
        description="Find committed ingest runs that are not cleaned yet (Redis stream plus "
        "reconciliation with the bucket), clean them and commit new snapshots.",
    )
    parser.add_argument(
        "--rebuild",
        nargs="+",
        metavar="DATASET",
        help="re-clean these datasets from all raw data with the current rules",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="keep running: clean as soon as an ingest run is announced",
    )
    parser.add_argument(
        "--heartbeat-file",
        metavar="PATH",
        help="with --watch: touch this file after every pass, for a liveness probe "
        "(`bucketpipe status --heartbeat PATH`)",
    )
    parser.add_argument("--limit", type=int, help="clean at most this many ingest runs")
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for the writer lock"
    )
    parser.add_argument("--force", action="store_true", help="run even if the run id committed")
    add_run_id(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    with context(settings) as ctx:
        if args.rebuild:
            run_id = run_id_for(args, settings, "rebuild")
            rebuilt = rebuild(ctx, run_id=run_id, datasets=args.rebuild, after_clean=AFTER_CLEAN)
            return EXIT_OK if rebuilt.status == "succeeded" else EXIT_FAILED
        if args.watch:
            return watch(ctx, args, settings)
        run_id = run_id_for(args, settings, "clean")
        manifest = run_clean(
            ctx,
            run_id=run_id,
            after_clean=AFTER_CLEAN,
            force=args.force,
            limit=args.limit,
            wait_seconds=args.wait,
        )
        if manifest is None:
            return EXIT_OK
        return EXIT_OK if manifest.status == "succeeded" else EXIT_FAILED


def watch(ctx: Context, args: argparse.Namespace, settings: Settings) -> int:
    """Clean whenever an ingest run is announced (or every refresh interval without Redis)."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("watching for ingest runs", extra={"redis": ctx.signals.state})
    reporter = Reporter(settings)
    first = True
    while not stop.is_set():
        run_id = args.resolved_run_id = run_id_for(argparse.Namespace(), settings, "clean")
        started = utcnow()
        manifest = run_clean(
            ctx,
            run_id=run_id,
            after_clean=AFTER_CLEAN,
            consumer="watch",
            limit=args.limit,
            wait_seconds=args.wait,
        )
        if manifest is not None or first:
            # Each pass is a run: recorded, and a recovery announced (the first pass too, as a
            # restart after a failure may find nothing pending).
            code = EXIT_OK if manifest is None or manifest.status == "succeeded" else EXIT_FAILED
            reporter.finish(RunEnd("clean", run_id, code, started, utcnow()), manifest)
        first = False
        if args.heartbeat_file:
            touch(Path(args.heartbeat_file))
        if ctx.signals.configured and ctx.signals.state == "ok":
            # Block on the stream; an ingest event (or the timeout) wakes the next pass.
            ctx.signals.wait_for_events(timeout_ms=settings.refresh_seconds * 1000)
        else:
            stop.wait(settings.refresh_seconds)
    return EXIT_OK


def touch(path: Path) -> None:
    """Mark the watch alive (its mtime is what `status --heartbeat` checks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
