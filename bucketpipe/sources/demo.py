"""The demo source: a deterministic offline market in Finnhub's own response shapes.

Prices are a pure function of (seed, symbol, day, tick), so overlapping runs produce the same
quote for the same moment and cleaning deduplicates them. A few realistic defects are mixed
in (repeated calls, missing fields, absurd prices, an unknown symbol) so cleaning has work.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bucketpipe.raw import RawRecord

SOURCE = "demo"
UNKNOWN_SYMBOL = "ZZZZQ"
MARKET_OPEN = time(14, 30)  # 09:30 New York, standard time
MARKET_CLOSE = time(21, 0)  # 16:00 New York
_EPOCH = date(2000, 1, 3)

# name, industry, exchange, base price, shares outstanding (millions), IPO date, web
COMPANIES: dict[str, tuple[str, str, str, float, float, str, str]] = {
    "AAPL": (
        "Apple Inc",
        "Technology",
        "NASDAQ NMS - GLOBAL MARKET",
        190.0,
        15_200.0,
        "1980-12-12",
        "https://www.apple.com/",
    ),
    "GOOGL": (
        "Alphabet Inc",
        "Media",
        "NASDAQ NMS - GLOBAL MARKET",
        140.0,
        12_300.0,
        "2004-08-19",
        "https://abc.xyz/",
    ),
    "MSFT": (
        "Microsoft Corp",
        "Technology",
        "NASDAQ NMS - GLOBAL MARKET",
        410.0,
        7_430.0,
        "1986-03-13",
        "https://www.microsoft.com/",
    ),
    "TSLA": (
        "Tesla Inc",
        "Automobiles",
        "NASDAQ NMS - GLOBAL MARKET",
        240.0,
        3_190.0,
        "2010-06-29",
        "https://www.tesla.com/",
    ),
    "AMZN": (
        "Amazon.com Inc",
        "Retail",
        "NASDAQ NMS - GLOBAL MARKET",
        180.0,
        10_500.0,
        "1997-05-15",
        "https://www.amazon.com/",
    ),
    "NVDA": (
        "NVIDIA Corp",
        "Semiconductors",
        "NASDAQ NMS - GLOBAL MARKET",
        120.0,
        24_500.0,
        "1999-01-22",
        "https://www.nvidia.com/",
    ),
    "META": (
        "Meta Platforms Inc",
        "Media",
        "NASDAQ NMS - GLOBAL MARKET",
        500.0,
        2_530.0,
        "2012-05-18",
        "https://www.meta.com/",
    ),
}


@dataclass(frozen=True)
class DemoConfig:
    """What to generate: symbols, how many days back from `end`, ticks every N minutes."""

    symbols: Sequence[str]
    days: int
    interval_minutes: int
    seed: int
    end: datetime
    defects: bool = True


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def company(symbol: str) -> tuple[str, str, str, float, float, str, str]:
    """Known companies from the table; any other symbol gets a stable invented profile."""
    if symbol in COMPANIES:
        return COMPANIES[symbol]
    rng = _rng("company", symbol)
    return (
        f"{symbol.title()} Holdings Inc",
        rng.choice(["Technology", "Banking", "Retail", "Energy", "Pharmaceuticals", "Media"]),
        rng.choice(["NASDAQ NMS - GLOBAL MARKET", "NEW YORK STOCK EXCHANGE, INC."]),
        round(rng.uniform(15, 600), 2),
        round(rng.uniform(50, 5_000), 1),
        f"{rng.randint(1980, 2020)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        f"https://www.{symbol.lower()}.example/",
    )


def trading_days(end: date, days: int) -> list[date]:
    """Weekdays among the `days` calendar days ending at `end` (inclusive)."""
    out = []
    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        if day.weekday() < 5:
            out.append(day)
    return out


def ticks(day: date, interval_minutes: int) -> list[datetime]:
    """Snapshot times of one trading day, every `interval_minutes` from the open to the close."""
    start = datetime.combine(day, MARKET_OPEN, UTC)
    close = datetime.combine(day, MARKET_CLOSE, UTC)
    out = []
    moment = start
    while moment <= close:
        out.append(moment)
        moment += timedelta(minutes=interval_minutes)
    return out


def close_price(seed: int, symbol: str, day: date) -> float:
    """The day's close: slow cycles around the base price plus seeded daily noise."""
    base = company(symbol)[3]
    index = (day - _EPOCH).days
    phase = _rng("phase", seed, symbol).uniform(0, 2 * math.pi)
    noise = _rng("close", seed, symbol, day).gauss(0, 0.012)
    level = 0.15 * math.sin(2 * math.pi * index / 181 + phase) + 0.05 * math.sin(
        2 * math.pi * index / 23 + 2 * phase
    )
    return round(base * math.exp(level + noise), 2)


def previous_trading_day(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def intraday_path(seed: int, symbol: str, day: date, n: int) -> list[float]:
    """A Brownian bridge from the open to the close over `n` ticks."""
    prev_close = close_price(seed, symbol, previous_trading_day(day))
    close = close_price(seed, symbol, day)
    rng = _rng("path", seed, symbol, day)
    opening = round(prev_close * (1 + rng.gauss(0, 0.004)), 2)
    if n == 1:
        return [close]
    steps = [rng.gauss(0, 0.003) for _ in range(n - 1)]
    walk = [0.0]
    for step in steps:
        walk.append(walk[-1] + step)
    drift = math.log(close / opening)
    path = []
    for k in range(n):
        frac = k / (n - 1)
        bridge = walk[k] - frac * walk[-1]
        path.append(round(opening * math.exp(drift * frac + bridge), 2))
    return path


def quote_bodies(
    seed: int, symbol: str, day: date, interval: int
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """(time, /quote body) for each tick of a day, shaped like Finnhub's response."""
    moments = ticks(day, interval)
    path = intraday_path(seed, symbol, day, len(moments))
    prev_close = close_price(seed, symbol, previous_trading_day(day))
    high = low = path[0]
    for moment, price in zip(moments, path, strict=True):
        high, low = max(high, price), min(low, price)
        change = round(price - prev_close, 2)
        yield (
            moment,
            {
                "c": price,
                "d": change,
                "dp": round(change / prev_close * 100, 4),
                "h": high,
                "l": low,
                "o": path[0],
                "pc": prev_close,
                "t": int(moment.timestamp()),
            },
        )


def profile_body(symbol: str) -> dict[str, Any]:
    """A /stock/profile2 body."""
    name, industry, exchange, base, shares, ipo, web = company(symbol)
    return {
        "country": "US",
        "currency": "USD",
        "estimateCurrency": "USD",
        "exchange": exchange,
        "finnhubIndustry": industry,
        "ipo": ipo,
        "logo": f"https://static.finnhub.io/logo/{symbol.lower()}.png",
        "marketCapitalization": round(base * shares, 2),
        "name": name,
        "phone": "14085551234",
        "shareOutstanding": shares,
        "ticker": symbol,
        "weburl": web,
    }


def _record(
    run: str, endpoint: str, path: str, params: dict[str, Any], at: datetime, body: Any
) -> RawRecord:
    return RawRecord(
        run=run,
        source=SOURCE,
        endpoint=endpoint,
        path=path,
        params=params,
        requested_at=at,
        status=200,
        elapsed_ms=0.0,
        body=body,
    )


def _with_defect(rng: random.Random, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Maybe damage a quote the way real feeds do; returns (body, repeat this call)."""
    roll = rng.random()
    body = dict(body)
    if roll < 0.004:
        body["c"] = round(body["c"] * 100, 2)  # a fat-fingered price
    elif roll < 0.006:
        body["c"] = -abs(body["c"])
    elif roll < 0.016:
        body.pop(rng.choice(["d", "dp", "pc"]))
    elif roll < 0.019:
        body.pop("c")
    return body, rng.random() < 0.02


def generate(config: DemoConfig, run: str) -> Iterator[RawRecord]:
    """Every raw record of one demo run, in time order per symbol."""
    end = config.end.astimezone(UTC)
    for symbol in config.symbols:
        rng = _rng("defects", config.seed, symbol, end.date())
        for day in trading_days(end.date(), config.days):
            for moment, body in quote_bodies(config.seed, symbol, day, config.interval_minutes):
                if moment > end:
                    break
                repeat = False
                if config.defects:
                    body, repeat = _with_defect(rng, body)
                record = _record(run, "quote", "/quote", {"symbol": symbol}, moment, body)
                yield record
                if repeat:
                    yield record
        yield _record(
            run, "profile", "/stock/profile2", {"symbol": symbol}, end, profile_body(symbol)
        )
    if config.defects:
        zero = {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
        yield _record(run, "quote", "/quote", {"symbol": UNKNOWN_SYMBOL}, end, zero)
        yield _record(run, "profile", "/stock/profile2", {"symbol": UNKNOWN_SYMBOL}, end, {})
