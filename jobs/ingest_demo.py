"""`bucketpipe ingest demo`: the offline demo market, no key and no network."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from bucketpipe.context import Context
from bucketpipe.ingest import already_committed, announce_running, commit_ingest
from bucketpipe.layout import input_id
from bucketpipe.raw import RawWriter
from bucketpipe.settings import Settings
from bucketpipe.sources.demo import SOURCE, DemoConfig, generate
from bucketpipe.storage import scratch_dir
from jobs.common import EXIT_OK, add_run_id, context, run_id_for

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="generate a deterministic offline market (Finnhub shapes) and land it raw",
        description="Generate quote snapshots and company data for the configured symbols "
        "(BUCKETPIPE_SYMBOLS) with realistic defects, and land them like a Finnhub run.",
    )
    parser.add_argument("--days", type=int, help="days of history (BUCKETPIPE_DEMO_DAYS)")
    parser.add_argument(
        "--interval", type=int, help="minutes between snapshots (BUCKETPIPE_DEMO_INTERVAL_MINUTES)"
    )
    parser.add_argument("--symbols", help="comma-separated symbols (BUCKETPIPE_SYMBOLS)")
    parser.add_argument("--seed", type=int, help="seed (BUCKETPIPE_DEMO_SEED)")
    parser.add_argument("--no-defects", action="store_true", help="generate clean data only")
    parser.add_argument("--force", action="store_true", help="re-land a committed run id")
    add_run_id(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    run_id = run_id_for(args, settings, "ingest-demo")
    with context(settings) as ctx:
        run_demo(ctx, args, settings, run_id)
    return EXIT_OK


def run_demo(ctx: Context, args: argparse.Namespace, settings: Settings, run_id: str) -> None:
    if not args.force and already_committed(ctx, run_id, None) is not None:
        log.info("run already committed; nothing to do (use --force)", extra={"run_id": run_id})
        return
    symbols = (
        [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if args.symbols
        else settings.symbols
    )
    started = ctx.now()
    config = DemoConfig(
        symbols=symbols,
        days=args.days or settings.demo_days,
        interval_minutes=args.interval or settings.demo_interval_minutes,
        seed=settings.demo_seed if args.seed is None else args.seed,
        end=started,
        defects=not args.no_defects,
    )
    announce_running(ctx, f"ingest-{SOURCE}", run_id)
    log.info(
        "generating demo market",
        extra={"run_id": run_id, "symbols": len(symbols), "days": config.days},
    )
    writer = RawWriter(scratch_dir(settings.temp_dir))
    try:
        for record in generate(config, input_id(run_id, None)):
            writer.write(record)
        commit_ingest(
            ctx,
            source=SOURCE,
            run_id=run_id,
            writer=writer,
            started_at=started,
            details={
                "symbols": symbols,
                "days": config.days,
                "interval_minutes": config.interval_minutes,
            },
        )
    finally:
        writer.discard()
