"""`bucketpipe ingest finnhub`: fetch what is due from Finnhub, land it raw, commit the run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.coord.ratelimit import open_limiter
from bucketpipe.ingest.finnhub.client import MISSING_KEY, FinnhubClient, finnhub_limits
from bucketpipe.ingest.finnhub.endpoints import BY_DATASET
from bucketpipe.ingest.finnhub.plan import Call
from bucketpipe.ingest.finnhub.run import (
    JOB,
    Progress,
    RunOptions,
    RunOutcome,
    ingest_finnhub,
)
from bucketpipe.ingest.finnhub.shard import Shard, resolve_shard
from bucketpipe.jobs.argtypes import check_symbol_option, positive_int
from bucketpipe.jobs.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    add_run_id,
    context,
    run_id_for,
)

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "finnhub",
        help="fetch what is due from the Finnhub API and land it raw",
        description="Fetch the due Finnhub datasets for BUCKETPIPE_SYMBOLS under the plan's "
        "rate limit, land every call raw and commit the run. Exit 0: everything due was "
        "fetched (or skipped as not in the plan); 1: some calls failed after retries (the "
        "rest is committed); 2: configuration error.",
    )
    shards = parser.add_mutually_exclusive_group()
    shards.add_argument(
        "--shard",
        metavar="K/N",
        help="fetch shard K of N (0-based): symbols split by a stable hash, market-wide "
        "endpoints on shard 0",
    )
    shards.add_argument(
        "--shards",
        type=positive_int,
        metavar="N",
        help="N shards, this pod's index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)",
    )
    parser.add_argument(
        "--datasets",
        help=f"comma-separated datasets (default BUCKETPIPE_FINNHUB_DATASETS): "
        f"{', '.join(BY_DATASET)}",
    )
    parser.add_argument("--symbols", help="comma-separated symbols (default BUCKETPIPE_SYMBOLS)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="run a committed run id again: fetch every selected dataset (cadences ignored) "
        "and replace its raw object and manifest",
    )
    parser.add_argument(
        "--ignore-cadence",
        action="store_true",
        help="fetch the selected datasets now even if they are not due",
    )
    add_run_id(parser)
    parser.set_defaults(handler=handle)


def _names(text: str | None, *, upper: bool = False) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return tuple(dict.fromkeys(n.upper() if upper else n for n in names))


def options_from(args: argparse.Namespace, settings: Settings) -> RunOptions:
    """The run's options; ConfigError (exit 2) for anything wrong in them."""
    datasets = _names(args.datasets)
    unknown = sorted(set(datasets or ()) - set(BY_DATASET))
    if unknown:
        raise ConfigError(f"--datasets: unknown {unknown}; choose from {list(BY_DATASET)}")
    if datasets == () or _names(args.symbols) == ():
        raise ConfigError("--datasets and --symbols need at least one name")
    check_symbol_option(_names(args.symbols, upper=True))
    shard = resolve_shard(args.shard, args.shards, settings.job_completion_index)
    if settings.job_completion_index is not None and args.shard is None and args.shards is None:
        log.warning(
            "JOB_COMPLETION_INDEX is set but --shards is not: this pod fetches every symbol; "
            "give the Indexed Job's pods --shards N"
        )
    return RunOptions(
        run_id=run_id_for(args, settings, JOB),
        shard=shard,
        datasets=datasets,
        symbols=_names(args.symbols, upper=True),
        force=args.force,
        ignore_cadence=args.ignore_cadence,
    )


def handle(args: argparse.Namespace, settings: Settings) -> int:
    if settings.finnhub_api_key is None or not settings.finnhub_api_key.get_secret_value():
        raise ConfigError(MISSING_KEY)
    options = options_from(args, settings)
    with context(settings) as ctx:
        limiter = open_limiter(
            finnhub_limits(settings),
            redis_client=ctx.signals.client,
            key=ctx.signals.key("ratelimit", settings.finnhub_key_id()),
            share=_share(options.shard),
        )
        client = FinnhubClient.from_settings(settings, limiter=limiter)
        try:
            with progress_display(sys.stderr.isatty()) as progress:
                outcome = ingest_finnhub(ctx, client, options, progress=progress)
        finally:
            client.close()
    return exit_code(outcome)


def _share(shard: Shard | None) -> float:
    """Without Redis each shard limits itself to its share of the plan."""
    return 1.0 / shard.count if shard is not None else 1.0


def exit_code(outcome: RunOutcome) -> int:
    if outcome.auth_failed:
        log.error(
            "Finnhub rejected FINNHUB_API_KEY (HTTP 401): check the key in your Finnhub "
            "dashboard and the Secret it comes from"
        )
        return EXIT_CONFIG
    if outcome.failed_calls:
        log.error(
            "some Finnhub calls failed after retries; what succeeded is committed and the "
            "rest is due again next run",
            extra={"failed_calls": outcome.failed_calls},
        )
        return EXIT_FAILED
    return EXIT_OK


@contextmanager
def progress_display(terminal: bool) -> Iterator[Progress]:
    """A progress bar on a terminal; otherwise a log line at every tenth of the calls."""
    if not terminal:
        yield _log_progress
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("finnhub", total=None)

        def update(done: int, total: int, call: Call) -> None:
            bar.update(task, completed=done, total=total, description=f"{call.dataset} {call.unit}")

        # While the bar is live, sys.stderr prints above it: send our log lines there too.
        handlers = [
            h
            for h in logging.getLogger().handlers
            if getattr(h, "_bucketpipe", False) and isinstance(h, logging.StreamHandler)
        ]
        streams = [h.setStream(sys.stderr) for h in handlers]
        try:
            yield update
        finally:
            for handler, stream in zip(handlers, streams, strict=True):
                if stream is not None:
                    handler.setStream(stream)


def _log_progress(done: int, total: int, call: Call) -> None:
    step = max(1, total // 10)
    if done % step == 0 or done == total:
        log.info("progress", extra={"calls_done": done, "calls_planned": total})
