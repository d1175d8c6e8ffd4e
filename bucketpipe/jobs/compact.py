"""`bucketpipe compact`: compact closed partitions, roll day archives, apply retention, vacuum."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from bucketpipe.config.settings import Settings
from bucketpipe.jobs.argtypes import non_negative_float
from bucketpipe.jobs.common import EXIT_OK, add_run_id, context, run_id_for
from bucketpipe.maintain.compaction import run_compaction

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "compact",
        help="compact closed partitions, archive raw and reports, apply retention, vacuum",
        description="Run daily. Under the writer lock clean uses: rewrite each closed "
        "partition with several files into few files of BUCKETPIPE_COMPACT_TARGET_MB, roll raw "
        "objects, quarantine files and quality reports of closed days into one object per "
        "day, apply the BUCKETPIPE_RETENTION_* settings, and delete files and snapshot "
        "versions older than BUCKETPIPE_VACUUM_GRACE_HOURS that no snapshot needs.",
    )
    parser.add_argument(
        "--wait", type=non_negative_float, default=0.0, help="seconds to wait for the writer lock"
    )
    add_run_id(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    run_id = run_id_for(args, settings, "compact")
    with context(settings) as ctx:
        if ctx.runlog.exists("compact", run_id):
            log.info("run already committed; nothing to do", extra={"run_id": run_id})
            return EXIT_OK
        run_compaction(ctx, run_id=run_id, wait_seconds=args.wait)
    return EXIT_OK
