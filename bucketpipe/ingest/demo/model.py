"""The demo market's model: companies, trading days and prices as pure functions of a seed.

Everything here is a pure function of its arguments (hash-seeded), so two runs covering the
same moment produce the same numbers and cleaning deduplicates them.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple

MARKET_OPEN = time(14, 30)  # 09:30 New York, standard time
MARKET_CLOSE = time(21, 0)  # 16:00 New York
_EPOCH = date(2000, 1, 3)


class Company(NamedTuple):
    name: str
    industry: str
    exchange: str
    base_price: float
    shares_millions: float
    ipo: str
    web: str


NASDAQ = "NASDAQ NMS - GLOBAL MARKET"
COMPANIES: dict[str, Company] = {
    "AAPL": Company(
        "Apple Inc", "Technology", NASDAQ, 190.0, 15_200.0, "1980-12-12", "https://www.apple.com/"
    ),
    "GOOGL": Company(
        "Alphabet Inc", "Media", NASDAQ, 140.0, 12_300.0, "2004-08-19", "https://abc.xyz/"
    ),
    "MSFT": Company(
        "Microsoft Corp",
        "Technology",
        NASDAQ,
        410.0,
        7_430.0,
        "1986-03-13",
        "https://www.microsoft.com/",
    ),
    "TSLA": Company(
        "Tesla Inc", "Automobiles", NASDAQ, 240.0, 3_190.0, "2010-06-29", "https://www.tesla.com/"
    ),
    "AMZN": Company(
        "Amazon.com Inc", "Retail", NASDAQ, 180.0, 10_500.0, "1997-05-15", "https://www.amazon.com/"
    ),
    "NVDA": Company(
        "NVIDIA Corp",
        "Semiconductors",
        NASDAQ,
        120.0,
        24_500.0,
        "1999-01-22",
        "https://www.nvidia.com/",
    ),
    "META": Company(
        "Meta Platforms Inc", "Media", NASDAQ, 500.0, 2_530.0, "2012-05-18", "https://www.meta.com/"
    ),
}


def rng(*parts: object) -> random.Random:
    """A random generator seeded by a hash of `parts`: the same parts, the same numbers."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stable_id(*parts: object) -> int:
    """A positive integer id (below 2**48, exact in JSON doubles) derived from `parts`."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:6], "big") or 1


@lru_cache(maxsize=4096)
def company(symbol: str) -> Company:
    """Known companies from the table; any other symbol gets a stable invented profile."""
    if symbol in COMPANIES:
        return COMPANIES[symbol]
    gen = rng("company", symbol)
    return Company(
        f"{symbol.title()} Holdings Inc",
        gen.choice(["Technology", "Banking", "Retail", "Energy", "Pharmaceuticals", "Media"]),
        gen.choice([NASDAQ, "NEW YORK STOCK EXCHANGE, INC."]),
        round(gen.uniform(15, 600), 2),
        round(gen.uniform(50, 5_000), 1),
        f"{gen.randint(1980, 2020)}-0{gen.randint(1, 9)}-1{gen.randint(0, 9)}",
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


def latest_session(end: datetime) -> date:
    """The last trading day whose session has opened by `end`.

    The demo's windows end there, so a run at any hour (a Monday before the open, a
    weekend) still covers the number of days asked for with at least one session.
    """
    day = end.date()
    if day.weekday() >= 5 or end < datetime.combine(day, MARKET_OPEN, UTC):
        day = previous_trading_day(day)
    return day


def ticks(day: date, interval_minutes: int) -> list[datetime]:
    """Snapshot times of one trading day, every `interval_minutes` from the open to the close."""
    return list(day_ticks(day, interval_minutes))


@lru_cache(maxsize=4096)
def day_ticks(day: date, interval_minutes: int) -> tuple[datetime, ...]:
    """`ticks`, shared by every symbol of the day."""
    start = datetime.combine(day, MARKET_OPEN, UTC)
    close = datetime.combine(day, MARKET_CLOSE, UTC)
    out: list[datetime] = []
    moment = start
    while moment <= close:
        out.append(moment)
        moment += timedelta(minutes=interval_minutes)
    return tuple(out)


@lru_cache(maxsize=8192)
def _phase(seed: int, symbol: str) -> float:
    return rng("phase", seed, symbol).uniform(0, 2 * math.pi)


@lru_cache(maxsize=1 << 17)
def close_price(seed: int, symbol: str, day: date) -> float:
    """The day's close: slow cycles around the base price plus seeded daily noise."""
    base = company(symbol).base_price
    index = (day - _EPOCH).days
    phase = _phase(seed, symbol)
    noise = rng("close", seed, symbol, day).gauss(0, 0.012)
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
    gen = rng("path", seed, symbol, day)
    opening = round(prev_close * (1 + gen.gauss(0, 0.004)), 2)
    if n == 1:
        return [close]
    steps = [gen.gauss(0, 0.003) for _ in range(n - 1)]
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


def daily_volume(seed: int, symbol: str, day: date) -> int:
    """Shares traded over a whole session: about 0.3-1% of the shares outstanding."""
    shares = company(symbol).shares_millions * 1e6
    return int(shares * 0.006 * rng("volume", seed, symbol, day).lognormvariate(0, 0.35))


def day_change(seed: int, symbol: str, day: date) -> float:
    """The day's close-to-close change as a fraction (drives news tone and sentiment)."""
    prev = close_price(seed, symbol, previous_trading_day(day))
    return close_price(seed, symbol, day) / prev - 1


def weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def quarter_ends(before: date, count: int) -> list[date]:
    """The last `count` calendar quarter ends strictly before `before`, newest first."""
    out: list[date] = []
    year, quarter = before.year, (before.month - 1) // 3  # the quarter before `before`'s
    while len(out) < count:
        if quarter == 0:
            year, quarter = year - 1, 4
        end = date(year, 3 * quarter, 31 if quarter in (1, 4) else 30)
        if end < before:
            out.append(end)
        quarter -= 1
    return out
