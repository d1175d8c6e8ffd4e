"""One Finnhub ingest run: plan, fetch under the rate limit, land raw, commit, advance state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bucketpipe.config.errors import BucketpipeError
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.finnhub.client import FinnhubClient, Reply, key_id
from bucketpipe.ingest.finnhub.cursors import advance
from bucketpipe.ingest.finnhub.endpoints import SOURCE
from bucketpipe.ingest.finnhub.plan import Call, DatasetPlan, PlanConfig, build_plan
from bucketpipe.ingest.finnhub.report import Tally
from bucketpipe.ingest.finnhub.shard import Shard
from bucketpipe.ingest.finnhub.state import FinnhubState, StateStore
from bucketpipe.ingest.run import already_committed, commit_ingest
from bucketpipe.lake.layout import input_id
from bucketpipe.lake.raw import RawRecord, RawWriter
from bucketpipe.lake.runs import RunManifest
from bucketpipe.lake.storage import scratch_dir

log = logging.getLogger(__name__)

JOB = f"ingest-{SOURCE}"
HEARTBEAT_SECONDS = 30.0

# Called after each planned call: (calls done, calls planned, the call).
Progress = Callable[[int, int, Call], None]


@dataclass(frozen=True)
class RunOptions:
    """What to fetch in this run, from the command line."""

    run_id: str
    shard: Shard | None = None
    datasets: tuple[str, ...] | None = None
    symbols: tuple[str, ...] | None = None
    force: bool = False
    ignore_cadence: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """The committed manifest (None for a no-op) and what the exit code depends on."""

    manifest: RunManifest | None
    failed_calls: int = 0
    auth_failed: bool = False

    @property
    def noop(self) -> bool:
        return self.manifest is None


def raw_record(call: Call, reply: Reply, run: str, problem: str | None) -> RawRecord:
    """The raw line of one call: what was asked (no credentials), when, and the answer."""
    return RawRecord(
        run=run,
        source=SOURCE,
        endpoint=call.endpoint.name,
        path=call.endpoint.path,
        params=reply.params,
        requested_at=reply.requested_at,
        status=reply.status,
        elapsed_ms=reply.elapsed_ms,
        error=problem,
        body=reply.body,
        attempts=reply.attempts,
    )


def ingest_finnhub(
    ctx: Context,
    client: FinnhubClient,
    options: RunOptions,
    *,
    progress: Progress | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RunOutcome:
    """Fetch what is due, land it raw and commit; then record in state what was fetched."""
    shard_index = options.shard.index if options.shard else None
    if not options.force and already_committed(ctx, options.run_id, shard_index) is not None:
        log.info(
            "run already committed; nothing to do (use --force)",
            extra={"run_id": input_id(options.run_id, shard_index)},
        )
        return RunOutcome(None)
    settings = ctx.settings
    cfg = PlanConfig.from_settings(settings, datasets=options.datasets, symbols=options.symbols)
    states = StateStore(ctx.store, key_id(_key(settings)))
    symbols = options.shard.symbols(cfg.symbols) if options.shard else list(cfg.symbols)
    state = states.load(symbols)
    started = ctx.now()
    # A forced run replaces the run's raw object: fetch everything so it loses nothing.
    ignore_cadence = options.ignore_cadence or options.force
    plans = build_plan(cfg, state, started, shard=options.shard, ignore_cadence=ignore_cadence)
    ctx.announce_running(JOB, input_id(options.run_id, shard_index))
    tally = Tally(plans)
    calls = [call for plan in plans for call in plan.calls]
    log.info(
        "fetching from Finnhub",
        extra={
            "run_id": input_id(options.run_id, shard_index),
            "shard": options.shard.label if options.shard else None,
            "symbols": len(symbols),
            "calls": len(calls),
            "due": [p.dataset for p in plans if p.status == "due"],
            "rate_limit": client.limiter.kind,
        },
    )
    writer = RawWriter(scratch_dir(settings.temp_dir))
    try:
        _fetch(ctx, client, options, calls, tally, writer, progress, monotonic)
        manifest = commit_ingest(
            ctx,
            source=SOURCE,
            run_id=options.run_id,
            writer=writer,
            started_at=started,
            shard=shard_index,
            shards=options.shard.count if options.shard else None,
            status=tally.run_status(),
            endpoints=tally.manifest_endpoints(),
            errors=tally.all_errors(),
            details=_details(options, symbols, tally, client),
        )
    finally:
        writer.discard()
    _report(plans, tally)
    _save_state(states, state, advance(state, tally.results, started, denied=tally.denials))
    return RunOutcome(manifest, tally.failed_calls, tally.auth_failed)


def _key(settings: Settings) -> str:
    return settings.finnhub_api_key.get_secret_value() if settings.finnhub_api_key else ""


def _fetch(
    ctx: Context,
    client: FinnhubClient,
    options: RunOptions,
    calls: list[Call],
    tally: Tally,
    writer: RawWriter,
    progress: Progress | None,
    monotonic: Callable[[], float],
) -> None:
    """Make the planned calls in order, skipping what can no longer succeed in this run."""
    run = input_id(options.run_id, options.shard.index if options.shard else None)
    budget = ctx.settings.finnhub_run_budget_seconds
    start = last_beat = monotonic()
    for done, call in enumerate(calls, start=1):
        if tally.is_denied(call.dataset):
            tally.skip(call, "the plan refused an earlier call (HTTP 403)")
        elif tally.auth_failed:
            tally.skip(call, "the API key was rejected (HTTP 401)")
        elif monotonic() - start > budget:
            tally.skip(call, "run time budget spent; due again next run")
        else:
            reply = client.fetch(call.endpoint.path, call.params)
            problem = tally.record(call, reply)
            writer.write(raw_record(call, reply, run, problem))
            if problem is not None and reply.outcome != "not_entitled":
                log.warning(
                    "Finnhub call failed",
                    extra={"dataset": call.dataset, "params": reply.params, "error": problem},
                )
        if progress is not None:
            progress(done, len(calls), call)
        if monotonic() - last_beat >= HEARTBEAT_SECONDS:
            ctx.signals.heartbeat(JOB, run)
            last_beat = monotonic()


def _details(
    options: RunOptions, symbols: list[str], tally: Tally, client: FinnhubClient
) -> dict[str, Any]:
    return {
        "symbols": symbols,
        "shard": options.shard.label if options.shard else None,
        "unknown_symbols": tally.unknown,
        "rate_limit": client.limiter.kind,
        "ignore_cadence": options.ignore_cadence,
    }


def _report(plans: list[DatasetPlan], tally: Tally) -> None:
    for plan in plans:
        entry = tally.endpoints[plan.dataset]
        if entry.status == "not_entitled":
            log.warning(
                "dataset not in the API plan; skipped until the entitlement retry period ends",
                extra={"dataset": plan.dataset, "path": plan.endpoint.path},
            )
    for symbol, reasons in sorted(tally.unknown.items()):
        log.warning(
            "unknown symbol: Finnhub has no data for it (check BUCKETPIPE_SYMBOLS)",
            extra={"symbol": symbol, "evidence": reasons},
        )
    log.info("finnhub datasets", extra={"datasets": tally.summary()})


def _save_state(states: StateStore, before: FinnhubState, after: FinnhubState) -> None:
    """State follows the commit; if it cannot be written the next run fetches again."""
    try:
        states.save(before, after)
    except BucketpipeError as exc:
        log.warning(
            "Finnhub state not saved; the next run fetches the same data again (clean "
            "deduplicates it)",
            extra={"error": str(exc)},
        )
