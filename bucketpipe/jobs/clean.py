"""`bucketpipe clean`: clean pending ingest runs, or rebuild datasets from raw."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from bucketpipe.catalog.rules import load_config
from bucketpipe.clean.job import rebuild, run_clean
from bucketpipe.clean.pending import GROUP
from bucketpipe.clean.sharding import CleanShard, run_shard
from bucketpipe.config.errors import ConfigError, LockBusy
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.coord.events import INGEST_COMMITTED
from bucketpipe.ingest.finnhub.shard import resolve_shard
from bucketpipe.jobs.argtypes import non_negative_float, positive_int
from bucketpipe.jobs.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_run_id,
    context,
    run_id_for,
)
from bucketpipe.jobs.outcomes import Reporter, RunEnd
from bucketpipe.lake.runs import utcnow
from bucketpipe.wiring import AFTER_CLEAN

log = logging.getLogger(__name__)

# Every watch replica reads the stream as this one consumer of the clean group: an event is
# delivered once, and its entry stays pending (for whichever replica's pass reads it) until a
# clean commits the run it announces.
WATCH_CONSUMER = "watch"
# While waiting, the watch touches its heartbeat file this often.
HEARTBEAT_SECONDS = 10.0
# A watch that found the writer lock held tries again this soon: the events that woke it were
# delivered to it and wake no replica again, and the pass holding the lock collected its work
# before they came.
BUSY_RETRY_SECONDS = 2.0


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
    shards = parser.add_mutually_exclusive_group()
    shards.add_argument(
        "--shard",
        metavar="K/N",
        help="clean shard K of N (0-based): this pod's share of the datasets; the last shard "
        "to finish updates the derived datasets and closes the run",
    )
    shards.add_argument(
        "--shards",
        type=positive_int,
        metavar="N",
        help="N shards, this pod's index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)",
    )
    parser.add_argument("--limit", type=positive_int, help="clean at most this many ingest runs")
    parser.add_argument(
        "--wait", type=non_negative_float, default=0.0, help="seconds to wait for the writer lock"
    )
    parser.add_argument("--force", action="store_true", help="run even if the run id committed")
    add_run_id(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    if (args.rebuild or args.watch) and (args.shard or args.shards):
        raise ConfigError("--shard/--shards shard a clean run; not --rebuild or --watch")
    # A broken config fails the command now, not when data first arrives (exit 2).
    load_config(settings.clean_config, settings.source_mapping)
    with context(settings) as ctx:
        if args.rebuild:
            run_id = run_id_for(args, settings, "rebuild")
            rebuilt = rebuild(ctx, run_id=run_id, datasets=args.rebuild, after_clean=AFTER_CLEAN)
            return EXIT_OK if rebuilt.status == "succeeded" else EXIT_FAILED
        if args.watch:
            return watch(ctx, args, settings)
        run_id = run_id_for(args, settings, "clean")
        shard = resolve_shard(args.shard, args.shards, settings.job_completion_index)
        if shard is not None:
            return sharded(ctx, run_id, CleanShard(shard.index, shard.count), args)
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


def sharded(ctx: Context, run_id: str, shard: CleanShard, args: argparse.Namespace) -> int:
    """One shard of a sharded clean run (every pod of the Indexed Job shares the run id)."""
    if args.limit is not None or args.wait:
        raise ConfigError("--limit and --wait do not apply to a sharded clean")
    manifest = run_shard(ctx, run_id=run_id, shard=shard, after_clean=AFTER_CLEAN, force=args.force)
    return EXIT_OK if manifest is None or manifest.status == "succeeded" else EXIT_FAILED


def watch(ctx: Context, args: argparse.Namespace, settings: Settings) -> int:
    """Clean whenever an ingest run is announced (or every refresh interval without Redis).

    SIGTERM or SIGINT between passes ends the watch within a second; during a pass it
    interrupts the pass at once (every commit is atomic; the next pass or run redoes the rest).
    Either way the exit code is 130, as for every other command.
    """
    stop = threading.Event()
    waiting = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if not waiting.is_set():
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("watching for ingest runs", extra={"redis": ctx.signals.state})
    reporter = Reporter(settings)
    first = True
    busy = False  # the last pass found the writer lock held
    while not stop.is_set():
        run_id = args.resolved_run_id = run_id_for(argparse.Namespace(), settings, "clean")
        started = utcnow()
        try:
            manifest = run_clean(
                ctx,
                run_id=run_id,
                after_clean=AFTER_CLEAN,
                consumer=WATCH_CONSUMER,
                limit=args.limit,
                wait_seconds=args.wait,
            )
            busy = False
        except LockBusy as held:
            # Another clean (a second replica, the fallback CronJob) is writing. What it
            # collected before this watch woke is not all there is: this watch tries again
            # shortly (not at the next event, which may never come) until the lock is free.
            if not busy:
                log.info("%s; trying again every %.0f s", held, BUSY_RETRY_SECONDS)
            busy, manifest = True, None
        if manifest is not None or first:
            # Each pass is a run: recorded, and a recovery announced (the first pass too, as a
            # restart after a failure may find nothing pending).
            code = EXIT_OK if manifest is None or manifest.status == "succeeded" else EXIT_FAILED
            reporter.finish(RunEnd("clean", run_id, code, started, utcnow()), manifest)
        first = False
        if args.heartbeat_file:
            touch(Path(args.heartbeat_file))
        waiting.set()
        try:
            wait_for_work(
                ctx,
                settings,
                stop,
                args.heartbeat_file,
                seconds=BUSY_RETRY_SECONDS if busy else None,
            )
        finally:
            waiting.clear()
    log.info("watch stopped")
    return EXIT_INTERRUPTED


def wait_for_work(
    ctx: Context,
    settings: Settings,
    stop: threading.Event,
    heartbeat_file: str | None,
    *,
    seconds: float | None = None,
) -> None:
    """Wait until an ingest run is announced, `seconds` (the refresh interval unless given,
    and never longer) end, or `stop` is set.

    The wait is in the clean consumer group, so an event that came while the pass ran (and
    the pass did not take) wakes it at once. The heartbeat file is touched while waiting too,
    so a liveness probe tells a waiting watch from a hung one.
    """
    limit = settings.refresh_seconds if seconds is None else min(seconds, settings.refresh_seconds)
    deadline = time.monotonic() + limit
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        step = min(left, HEARTBEAT_SECONDS)
        if ctx.signals.configured and ctx.signals.state == "ok":
            if ctx.signals.wait_for_events(
                timeout_ms=int(step * 1000),
                group=GROUP,
                consumer=WATCH_CONSUMER,
                kinds=frozenset({INGEST_COMMITTED}),
                stop=stop.is_set,
            ):
                return
        else:
            stop.wait(step)
        if heartbeat_file:
            touch(Path(heartbeat_file))


def touch(path: Path) -> None:
    """Mark the watch alive (its mtime is what `status --heartbeat` checks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
