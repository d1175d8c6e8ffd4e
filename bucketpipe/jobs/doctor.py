"""`bucketpipe doctor`: probe the deployment the settings describe, one line per check."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bucketpipe.config.checks import Check, exit_code, render
from bucketpipe.config.errors import BucketpipeError, ConfigError
from bucketpipe.config.settings import Settings, redact_url
from bucketpipe.coord.probe import check_redis
from bucketpipe.ingest.bucket.source import open_source
from bucketpipe.ingest.finnhub.probe import check_finnhub
from bucketpipe.jobs.common import EXIT_CONFIG
from bucketpipe.lake.grants import check_source
from bucketpipe.lake.probe import LakeProbe


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check the deployment: endpoint and TLS, keys, conditional writes, DuckDB, Redis",
        description="Probe the lake, the source bucket and Redis the settings name, and print "
        "one line per check (pass, warn, fail, skip) with what to do. Probe objects are "
        "deleted. Exit 0 when nothing failed, 1 when a check failed, 2 for bad settings.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument(
        "--finnhub", action="store_true", help="also try the Finnhub API key (one quote call)"
    )
    parser.set_defaults(handler=handle, on_bad_settings=report_bad_settings)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    checks = [describe(settings), *LakeProbe(settings).run(), source_check(settings)]
    checks.append(check_redis(settings))
    if args.finnhub:
        checks.append(check_finnhub(settings))
    return emit(checks, args.json, exit_code(checks))


def report_bad_settings(args: argparse.Namespace, error: ConfigError) -> int:
    """Settings that do not parse are the first check's failure (exit 2)."""
    check = Check(
        "settings", "fail", str(error), "fix that variable; `bucketpipe config` lists all"
    )
    return emit([check], args.json, EXIT_CONFIG)


def describe(settings: Settings) -> Check:
    where = settings.aws_endpoint_url or ("AWS" if settings.lake_is_s3 else None)
    on = f" on {redact_url(where)}" if where else ""
    return Check("settings", "pass", f"lake {settings.lake}{on}")


def source_check(settings: Settings) -> Check:
    if not settings.source:
        return Check("source", "skip", "BUCKETPIPE_SOURCE is unset (no bucket ingest)")
    try:
        store = open_source(settings)
    except BucketpipeError as exc:
        return Check("source", "fail", str(exc), "fix BUCKETPIPE_SOURCE")
    return check_source(store)


def emit(checks: list[Check], as_json: bool, code: int) -> int:
    if as_json:
        report = {"ok": code == 0, "exit_code": code, "checks": [c.as_dict() for c in checks]}
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        width = max(len(c.name) for c in checks) + 1
        sys.stdout.write("".join(render(c, width) + "\n" for c in checks))
    return code
