"""`bucketpipe ingest bucket`: land new or changed files from a bucket or directory as raw."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from bucketpipe.config.settings import Settings
from bucketpipe.ingest.bucket.mapping import load_mapping
from bucketpipe.ingest.bucket.source import land
from bucketpipe.ingest.bucket.state import SOURCE
from bucketpipe.ingest.run import already_committed
from bucketpipe.jobs.argtypes import positive_int
from bucketpipe.jobs.common import EXIT_FAILED, EXIT_OK, add_run_id, context, run_id_for

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "bucket",
        help="land new or changed files (CSV, JSON, NDJSON, Excel, Parquet) from a bucket",
        description="List the source (BUCKETPIPE_SOURCE or --source: s3://bucket/prefix on any "
        "S3 endpoint, or a directory), land every object whose key and ETag were not landed "
        "before, and commit the run. The mapping (BUCKETPIPE_SOURCE_MAPPING) says which keys "
        "feed which dataset; by default the top folder, else the file name, is the dataset.",
    )
    parser.add_argument(
        "--source",
        dest="source_url",  # `source` names the ingest source (bucket) in every ingest run
        help="s3://bucket/prefix or a directory (BUCKETPIPE_SOURCE)",
    )
    parser.add_argument("--mapping", help="mapping YAML file (BUCKETPIPE_SOURCE_MAPPING)")
    parser.add_argument(
        "--limit", type=positive_int, help="land at most this many files in this run"
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="try again files that could not be parsed before, even if unchanged",
    )
    add_run_id(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    run_id = run_id_for(args, settings, "ingest-bucket")
    mapping = load_mapping(args.mapping or settings.source_mapping)
    with context(settings) as ctx:
        if already_committed(ctx, run_id, None) is not None:
            log.info("run already committed; nothing to do", extra={"run_id": run_id})
            return EXIT_OK
        ctx.announce_running(f"ingest-{SOURCE}", run_id)
        manifest = land(
            ctx,
            run_id=run_id,
            mapping=mapping,
            source_url=args.source_url,
            limit=args.limit,
            retry_failed=args.retry_failed,
        )
        if manifest is None:
            ctx.signals.set_status(
                f"ingest-{SOURCE}",
                {
                    "state": "idle",
                    "run_id": run_id,
                    "finished_at": ctx.now(),
                    "message": "no new or changed files",
                },
            )
            return EXIT_OK
        for error in manifest.errors[:20]:
            log.warning("file not landed", extra={"run_id": run_id, "error": error})
    return EXIT_OK if manifest.status == "succeeded" else EXIT_FAILED
