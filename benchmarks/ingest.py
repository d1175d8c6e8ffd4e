"""Ingest against the fake Finnhub API: how much of the quota is used, and how many 429s.

Each shard is its own process running the real `ingest_finnhub` with the real client and the
rate limiter the job builds (`open_limiter` over Redis, this shard's share as the fallback).
The fake server enforces the plan per key with sliding windows and answers 429 past them. The
limits are scaled up so a run takes minutes, not hours; `window_s` may also be shortened
(quick mode) with the same calls per window, which keeps the ratio of the two limits.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.history import tickers
from benchmarks.services import RedisProcess, fake_finnhub

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestPlan:
    """The scaled plan and how many calls a scenario makes."""

    per_window: int
    window_s: float
    per_second: int
    calls: int

    @property
    def sustained_per_s(self) -> float:
        return self.per_window / self.window_s

    def label(self) -> str:
        if self.window_s == 60:
            return f"{self.per_window}/min and {self.per_second}/s"
        return (
            f"{self.per_window} per {self.window_s:g} s (= {self.sustained_per_s * 60:.0f}/min) "
            f"and {self.per_second}/s"
        )


@dataclass(frozen=True)
class ShardJob:
    """What one shard process needs (picklable)."""

    lake: str
    temp_dir: str
    redis_url: str
    finnhub_url: str
    api_key: str
    plan: IngestPlan
    index: int
    count: int
    symbols: tuple[str, ...]
    run_id: str
    start_at: float


def run_shard(job: ShardJob) -> dict[str, Any]:
    """One ingest pod: settings, context, the job's limiter and client, one Finnhub run."""
    from pydantic import SecretStr

    from bucketpipe.config.settings import Settings
    from bucketpipe.context import Context
    from bucketpipe.coord.ratelimit import Limit, open_limiter
    from bucketpipe.ingest.finnhub.client import FinnhubClient
    from bucketpipe.ingest.finnhub.run import RunOptions, ingest_finnhub
    from bucketpipe.ingest.finnhub.shard import Shard

    settings = Settings(
        lake=job.lake,
        temp_dir=job.temp_dir,
        redis_url=job.redis_url,
        finnhub_url=job.finnhub_url,
        finnhub_api_key=SecretStr(job.api_key),
        finnhub_datasets=["quotes"],
        finnhub_run_budget_seconds=3600,
        log_level="WARNING",
        log_format="json",
    )
    ctx = Context.from_settings(settings)
    limits = [Limit(job.plan.per_window, job.plan.window_s), Limit(job.plan.per_second, 1.0)]
    limiter = open_limiter(
        limits,
        redis_client=ctx.signals.client,
        key=ctx.signals.key("ratelimit", settings.finnhub_key_id()),
        share=1.0 / job.count,
    )
    client = FinnhubClient.from_settings(settings, limiter=limiter)
    shard = Shard(job.index, job.count) if job.count > 1 else None
    options = RunOptions(
        run_id=job.run_id,
        shard=shard,
        datasets=("quotes",),
        symbols=job.symbols,
        ignore_cadence=True,
    )
    time.sleep(max(0.0, job.start_at - time.time()))  # all shards start together
    started = time.monotonic()
    try:
        outcome = ingest_finnhub(ctx, client, options)
    finally:
        client.close()
        ctx.close()
    manifest = outcome.manifest
    return {
        "shard": job.index,
        "calls": manifest.rows if manifest else 0,
        "failed_calls": outcome.failed_calls,
        "status": manifest.status if manifest else "noop",
        "rate_limit": limiter.kind,
        "seconds": round(time.monotonic() - started, 3),
    }


def measure(plan: IngestPlan, shards: int, work: Path, *, startup_s: float) -> dict[str, Any]:
    """One scenario: `shards` processes fetch `plan.calls` quotes under one shared limit."""
    module = fake_finnhub()
    redis = RedisProcess()
    fake = module.FakeFinnhub(
        per_second=plan.per_second,
        per_minute=plan.per_window,
        second_window=1.0,
        minute_window=plan.window_s,
    ).start()
    try:
        symbols = tuple(tickers(plan.calls))
        start_at = time.time() + startup_s
        jobs = [
            ShardJob(
                lake=str(work / f"ingest-lake-{shards}"),
                temp_dir=str(work / "tmp"),
                redis_url=redis.url,
                finnhub_url=fake.url,
                api_key=module.FREE_KEY,
                plan=plan,
                index=i,
                count=shards,
                symbols=symbols,
                run_id=f"bench-ingest-{shards}",
                start_at=start_at,
            )
            for i in range(shards)
        ]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=shards, mp_context=context) as pool:
            results = list(pool.map(run_shard, jobs))
        accepted = sorted(r.at for r in fake.requests() if r.status != 429 and r.plan is not None)
        rejected = sum(1 for r in fake.requests() if r.status == 429)
    finally:
        fake.stop()
        redis.stop()
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    share = len(accepted) / (plan.sustained_per_s * span) if span > 0 else None
    return {
        "shards": shards,
        "plan": plan.label(),
        "calls_planned": plan.calls,
        "calls_accepted": len(accepted),
        "http_429": rejected,
        "seconds": round(span, 3),
        "calls_per_s": round(len(accepted) / span, 3) if span else None,
        "quota_per_s": round(plan.sustained_per_s, 3),
        "quota_used": round(share, 4) if share is not None else None,
        "max_in_window": fake.max_in_window(plan.window_s),
        "shard_runs": results,
    }
