"""`bucketpipe`: one command, a subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bucketpipe import __version__
from bucketpipe.config.errors import ConfigError
from bucketpipe.jobs.argtypes import Parser
from bucketpipe.jobs.common import Subcommand, guarded, load_settings, setup_logging

# The modules of `bucketpipe.jobs` with `register(subparsers)`, which sets `handler` on their
# parsers. A command line naming one imports that one alone: each module brings its job's
# code (clean's reaches pandas), and an ingest pod starts half a second sooner without them.
SUBCOMMANDS = (
    "ingest",
    "clean",
    "status",
    "config",
    "dashboard",
    "sql",
    "tables",
    "compact",
    "doctor",
    "metrics",
)


def subcommand(name: str) -> Subcommand:
    """The module of the subcommand `name` (one of SUBCOMMANDS), imported."""
    module: Subcommand = importlib.import_module(f"bucketpipe.jobs.{name}")
    return module


def build_parser(
    extra: Sequence[Subcommand] = (), argv: Sequence[str] | None = None
) -> argparse.ArgumentParser:
    """The command line; `extra` adds subcommands (a checkout adds `bench`, see jobs/). With
    `argv` naming a subcommand first, the parser knows that one alone (and `extra`)."""
    parser = Parser(
        prog="bucketpipe",
        description="Data pipelines as Kubernetes CronJobs on object storage. Settings come "
        "from the environment (see `bucketpipe config`).",
    )
    parser.add_argument("--version", action="version", version=f"bucketpipe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    named = next((a for a in argv or () if not a.startswith("-")), None)
    names = (named,) if named in SUBCOMMANDS else SUBCOMMANDS
    for module in (*map(subcommand, names), *extra):
        module.register(sub)
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Kubernetes stops a pod with SIGTERM; as PID 1 Python would ignore it. Stopping at once is
    # safe: every commit is atomic, and the interrupted run is redone by the next one.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, *, extra: Sequence[Subcommand] = ()) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(extra, argv)
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
