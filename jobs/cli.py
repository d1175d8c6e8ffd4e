"""`bucketpipe`: one command, a subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bucketpipe import __version__
from bucketpipe.errors import ConfigError
from jobs.common import guarded, load_settings, setup_logging

# Each module has `register(subparsers)`, which sets `handler` on its parsers.
SUBCOMMANDS = (
    "jobs.ingest",
    "jobs.clean",
    "jobs.status",
    "jobs.config",
    "jobs.dashboard",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bucketpipe",
        description="Data pipelines as Kubernetes CronJobs on object storage. Settings come "
        "from the environment (see `bucketpipe config`).",
    )
    parser.add_argument("--version", action="version", version=f"bucketpipe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        setup_logging(None)
        import logging

        logging.getLogger("bucketpipe").error(str(exc))
        return 2
    setup_logging(settings)
    return guarded(args.handler, args, settings)


if __name__ == "__main__":
    sys.exit(main())
