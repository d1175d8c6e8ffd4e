"""`bucketpipe`: one command, a subcommand per job."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bucketpipe import __version__
from bucketpipe.config.errors import ConfigError
from bucketpipe.jobs import (
    clean,
    compact,
    config,
    dashboard,
    doctor,
    ingest,
    metrics,
    sql,
    status,
    tables,
)
from bucketpipe.jobs.argtypes import Parser
from bucketpipe.jobs.common import Subcommand, guarded, load_settings, setup_logging

# Each module has `register(subparsers)`, which sets `handler` on its parsers.
SUBCOMMANDS: tuple[Subcommand, ...] = (
    ingest,
    clean,
    status,
    config,
    dashboard,
    sql,
    tables,
    compact,
    doctor,
    metrics,
)


def build_parser(extra: Sequence[Subcommand] = ()) -> argparse.ArgumentParser:
    """The command line; `extra` adds subcommands (a checkout adds `bench`, see jobs/)."""
    parser = Parser(
        prog="bucketpipe",
        description="Data pipelines as Kubernetes CronJobs on object storage. Settings come "
        "from the environment (see `bucketpipe config`).",
    )
    parser.add_argument("--version", action="version", version=f"bucketpipe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for subcommand in (*SUBCOMMANDS, *extra):
        subcommand.register(sub)
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Kubernetes stops a pod with SIGTERM; as PID 1 Python would ignore it. Stopping at once is
    # safe: every commit is atomic, and the interrupted run is redone by the next one.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, *, extra: Sequence[Subcommand] = ()) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        setup_logging(None)
        on_bad_settings = getattr(args, "on_bad_settings", None)
        if on_bad_settings is not None:  # doctor reports it as one of its checks
            return int(on_bad_settings(args, exc))
        import logging

        logging.getLogger("bucketpipe").error(str(exc))
        return 2
    setup_logging(settings)
    return guarded(args.handler, args, settings)


if __name__ == "__main__":
    sys.exit(main())
