"""Pytest fixtures and helpers around the fake Finnhub server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.coord.ratelimit import open_limiter
from bucketpipe.ingest.finnhub.client import FinnhubClient, finnhub_limits
from bucketpipe.ingest.finnhub.run import RunOptions, RunOutcome, ingest_finnhub
from bucketpipe.ingest.finnhub.shard import Shard
from tests.support.finnhub_server import PREMIUM_KEY, FakeFinnhub

# Fast enough for tests, and well above what the fake server enforces by default.
FAST_LIMITS = {"finnhub_calls_per_minute": 60_000, "finnhub_calls_per_second": 200}


@pytest.fixture
def finnhub_server() -> Iterator[FakeFinnhub]:
    """A fake Finnhub on loopback with generous limits; it must never see a key in a URL."""
    with FakeFinnhub(per_second=1_000, per_minute=1_000_000) as server:
        yield server
    assert server.token_in_url == 0, "a request carried the API key in its URL"


def finnhub_overrides(server: FakeFinnhub, **overrides: Any) -> dict[str, Any]:
    """Settings pointing at the fake server: a premium key, fast limits, quick retries."""
    values: dict[str, Any] = {
        "finnhub_api_key": PREMIUM_KEY,
        "finnhub_url": server.url,
        "finnhub_backoff_seconds": 0.01,
        "finnhub_backoff_max_seconds": 2.0,
        "finnhub_timeout_seconds": 2.0,
        **FAST_LIMITS,
    }
    values.update(overrides)
    return values


def client_for(settings: Settings, ctx: Context, shard: Shard | None = None) -> FinnhubClient:
    """The client the job builds: the shared Redis limiter when Redis is on, else local."""
    limiter = open_limiter(
        finnhub_limits(settings),
        redis_client=ctx.signals.client,
        key=ctx.signals.key("ratelimit", settings.finnhub_key_id()),
        share=1.0 / shard.count if shard else 1.0,
    )
    return FinnhubClient.from_settings(settings, limiter=limiter)


def run_ingest(ctx: Context, run_id: str, **options: Any) -> RunOutcome:
    """One ingest run against whatever `ctx.settings` points at."""
    client = client_for(ctx.settings, ctx, options.get("shard"))
    try:
        return ingest_finnhub(ctx, client, RunOptions(run_id=run_id, **options))
    finally:
        client.close()
