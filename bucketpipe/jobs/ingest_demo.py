"""`bucketpipe ingest demo`: the offline demo market, no key and no network."""

from __future__ import annotations

import argparse
from typing import Any

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.jobs.argtypes import check_symbol_option, positive_int
from bucketpipe.jobs.common import EXIT_OK, add_run_id, context, run_id_for


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="generate a deterministic offline market (Finnhub shapes) and land it raw",
        description="Generate quote snapshots and company data for the configured symbols "
        "(BUCKETPIPE_SYMBOLS) with realistic defects, and land them like a Finnhub run.",
    )
    parser.add_argument("--days", type=positive_int, help="days of history (BUCKETPIPE_DEMO_DAYS)")
    parser.add_argument(
        "--interval",
        type=positive_int,
        help="minutes between snapshots (BUCKETPIPE_DEMO_INTERVAL_MINUTES)",
    )
    parser.add_argument("--symbols", help="comma-separated symbols (BUCKETPIPE_SYMBOLS)")
    parser.add_argument("--seed", type=int, help="seed (BUCKETPIPE_DEMO_SEED)")
    parser.add_argument("--no-defects", action="store_true", help="generate clean data only")
    parser.add_argument("--force", action="store_true", help="re-land a committed run id")
    add_run_id(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    symbols = (
        [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if args.symbols
        else settings.symbols
    )
    if not symbols:
        raise ConfigError("--symbols: give at least one symbol")
    check_symbol_option(symbols)
    with context(settings) as ctx:
        ingest_demo(
            ctx,
            run_id=run_id_for(args, settings, "ingest-demo"),
            symbols=symbols,
            days=args.days or settings.demo_days,
            interval_minutes=args.interval or settings.demo_interval_minutes,
            seed=settings.demo_seed if args.seed is None else args.seed,
            defects=not args.no_defects,
            force=args.force,
        )
    return EXIT_OK
