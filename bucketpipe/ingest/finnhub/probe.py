"""The Finnhub key's check for `bucketpipe doctor --finnhub`: one quote, key in the header only."""

from __future__ import annotations

from bucketpipe.config.checks import Check
from bucketpipe.config.settings import Settings
from bucketpipe.coord.ratelimit import Limit, LocalLimiter
from bucketpipe.ingest.finnhub.client import FinnhubClient
from bucketpipe.ingest.finnhub.retry import RetryPolicy

__all__ = ["check_finnhub"]


def check_finnhub(settings: Settings) -> Check:
    """One `quote` call for the first symbol, no retries: the cheapest call every plan has."""
    if settings.finnhub_api_key is None:
        return Check(
            "finnhub", "fail", "FINNHUB_API_KEY is unset", "set it (a free key from finnhub.io)"
        )
    client = FinnhubClient(
        settings.finnhub_api_key.get_secret_value(),
        limiter=LocalLimiter([Limit(1, 1.0)]),
        base_url=settings.finnhub_url,
        timeout=settings.finnhub_timeout_seconds,
        retry=RetryPolicy(max_retries=0),  # one call: a 429 or 5xx is reported, not waited out
    )
    symbol = settings.symbols[0]
    reply = client.fetch("quote", {"symbol": symbol})
    where = settings.finnhub_url
    if reply.ok:
        return Check("finnhub", "pass", f"the API key works ({where}, quote {symbol})")
    if reply.outcome == "unauthorized":
        return Check(
            "finnhub", "fail", "Finnhub rejected the API key (HTTP 401)", "check FINNHUB_API_KEY"
        )
    if reply.outcome == "rate_limited":
        return Check(
            "finnhub",
            "warn",
            "Finnhub accepted the key but is rate-limiting it right now (HTTP 429)",
            "another process may be using the same key; the jobs share one limit per key",
        )
    return Check(
        "finnhub",
        "fail",
        f"the quote call failed: {reply.error or f'HTTP {reply.status}'}",
        "check BUCKETPIPE_FINNHUB_URL and the network; the plan must include quotes",
    )
