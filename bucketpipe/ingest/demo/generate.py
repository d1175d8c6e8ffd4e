"""The demo source: a deterministic offline market in Finnhub's own response shapes.

Prices are a pure function of (seed, symbol, day, tick), so overlapping runs produce the same
quote for the same moment and cleaning deduplicates them. Every Finnhub endpoint is covered
(the demo behaves like a paid key: candles, social sentiment and dividends included), with
daily candles that agree with the quote path. A few realistic defects are mixed in (repeated
calls, missing fields, absurd prices, an unknown symbol, a repeated article, an article
without a headline, an earnings row without an estimate) so cleaning has work; a quote's
defect is a pure function of (symbol, day, tick), the same under every seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bucketpipe.ingest.demo.filings import financials_reported_body
from bucketpipe.ingest.demo.fundamentals import (
    basic_financials_body,
    dividends_body,
    earnings_body,
    earnings_calendar_body,
    insider_transactions_body,
    recommendations_body,
)
from bucketpipe.ingest.demo.model import (
    COMPANIES,
    MARKET_CLOSE,
    MARKET_OPEN,
    close_price,
    company,
    daily_volume,
    day_ticks,
    intraday_path,
    latest_session,
    previous_trading_day,
    rng,
    ticks,
    trading_days,
)
from bucketpipe.ingest.demo.news import (
    company_news_body,
    ipo_calendar_body,
    market_news_body,
    social_sentiment_body,
)
from bucketpipe.lake.raw import RawRecord

__all__ = [
    "COMPANIES",
    "ENDPOINTS",
    "MARKET_CLOSE",
    "MARKET_OPEN",
    "PREMIUM",
    "SOURCE",
    "UNKNOWN_SYMBOL",
    "DemoConfig",
    "candle_body",
    "close_price",
    "company",
    "generate",
    "intraday_path",
    "profile_body",
    "quote_bodies",
    "ticks",
    "trading_days",
]

SOURCE = "demo"
UNKNOWN_SYMBOL = "ZZZZQ"
# Raw endpoint name -> Finnhub path, in the order a run fetches them.
ENDPOINTS: dict[str, str] = {
    "quote": "/quote",
    "candles": "/stock/candle",
    "profile": "/stock/profile2",
    "company_news": "/company-news",
    "earnings": "/stock/earnings",
    "recommendations": "/stock/recommendation",
    "insider_transactions": "/stock/insider-transactions",
    "basic_financials": "/stock/metric",
    "financials_reported": "/stock/financials-reported",
    "social_sentiment": "/stock/social-sentiment",
    "dividends": "/stock/dividend",
    "market_news": "/news",
    "ipo_calendar": "/calendar/ipo",
    "earnings_calendar": "/calendar/earnings",
}
PREMIUM = frozenset({"candles", "social_sentiment", "dividends"})
NEWS_CATEGORIES = ("general", "forex", "crypto", "merger")
INSIDER_DAYS = 90
DIVIDEND_YEARS = 5


@dataclass(frozen=True)
class DemoConfig:
    """What to generate: symbols, how many days back, ticks every N minutes.

    The quote and candle windows are `days` (`history_days`) calendar days ending on the
    last session opened by `end` (`latest_session`), so they always hold a session.

    `premium` False leaves out the premium endpoints (a free key); `endpoints` limits the
    run to some raw endpoints (None: all of them).
    """

    symbols: Sequence[str]
    days: int
    interval_minutes: int
    seed: int
    end: datetime
    defects: bool = True
    premium: bool = True
    endpoints: frozenset[str] | None = None
    news_days: int = 7
    calendar_days: int = 30
    # Daily candles reach further back than the quote snapshots (as a paid key's history
    # does), so 50-day averages and MACD have data from the first demo run.
    history_days: int = 120

    def wants(self, endpoint: str) -> bool:
        if endpoint in PREMIUM and not self.premium:
            return False
        return self.endpoints is None or endpoint in self.endpoints


def _quotes(
    moments: Sequence[datetime], path: list[float], prev_close: float
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    if not path:
        return  # a run before the day's first snapshot: no quote yet
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


def quote_bodies(
    seed: int, symbol: str, day: date, interval: int
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """(time, /quote body) for each tick of a day, shaped like Finnhub's response."""
    moments = ticks(day, interval)
    path = intraday_path(seed, symbol, day, len(moments))
    prev_close = close_price(seed, symbol, previous_trading_day(day))
    yield from _quotes(moments, path, prev_close)


def candle_body(bars: list[tuple[date, float, float, float, float, int]]) -> dict[str, Any]:
    """A /stock/candle body (parallel arrays) from (day, open, high, low, close, volume)."""
    if not bars:
        return {"s": "no_data"}
    return {
        "c": [b[4] for b in bars],
        "h": [b[2] for b in bars],
        "l": [b[3] for b in bars],
        "o": [b[1] for b in bars],
        "s": "ok",
        "t": [int(datetime.combine(b[0], time(0), UTC).timestamp()) for b in bars],
        "v": [b[5] for b in bars],
    }


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


def _record(run: str, endpoint: str, params: dict[str, Any], at: datetime, body: Any) -> RawRecord:
    return RawRecord(
        run=run,
        source=SOURCE,
        endpoint=endpoint,
        path=ENDPOINTS[endpoint],
        params=params,
        requested_at=at,
        status=200,
        elapsed_ms=0.0,
        body=body,
    )


def day_defects(
    symbol: str, day: date, interval_minutes: int
) -> Callable[[dict[str, Any], bool], tuple[dict[str, Any], bool]]:
    """The damage of one symbol-day's quotes, tick after tick: `(body, newest)` -> (body as
    delivered, repeat this call). A moment's defect is the feed's, not the market's: every run
    and every seed delivers the same damage at the same tick, so a re-delivery of a moment
    never brings a good quote where an earlier one was rejected, or the reverse, and the kept
    value of a rejected re-delivery is never another seed's price. The day's newest quote (its
    close, or the quote of now) stays whole: a live feed's bad answer there is mended by the
    next run's call for the same quote, and the demo delivers the state after it, so a day's
    last quote is its bar's close."""
    gen = rng("defects", symbol, day, interval_minutes)

    def deliver(body: dict[str, Any], newest: bool) -> tuple[dict[str, Any], bool]:
        damaged, repeat = _with_defect(gen, body)
        return (body if newest else damaged), repeat

    return deliver


def _with_defect(gen: random.Random, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Maybe damage a quote the way real feeds do; returns (body, repeat this call)."""
    roll = gen.random()
    body = dict(body)
    if roll < 0.004:
        body["c"] = round(body["c"] * 100, 2)  # a fat-fingered price
    elif roll < 0.006:
        body["c"] = -abs(body["c"])
    elif roll < 0.016:
        body.pop(gen.choice(["d", "dp", "pc"]))
    elif roll < 0.019:
        body.pop("c")
    return body, gen.random() < 0.02


def _market(config: DemoConfig, run: str, symbol: str, end: datetime) -> Iterator[RawRecord]:
    """Quote snapshots of every trading day, then the daily candles of the same path."""
    seed = config.seed
    last = latest_session(end)
    first_quote_day = last - timedelta(days=config.days - 1)
    history = max(config.days, config.history_days) if config.wants("candles") else config.days
    bars = []
    for day in trading_days(last, history):
        moments = day_ticks(day, config.interval_minutes)
        path = intraday_path(seed, symbol, day, len(moments))
        seen = sum(1 for m in moments if m <= end)
        if config.wants("quote") and day >= first_quote_day:
            prev_close = close_price(seed, symbol, previous_trading_day(day))
            deliver = day_defects(symbol, day, config.interval_minutes)
            quotes = _quotes(moments[:seen], path[:seen], prev_close)
            for tick, (moment, body) in enumerate(quotes, start=1):
                repeat = False
                if config.defects:
                    body, repeat = deliver(body, tick == seen)
                record = _record(run, "quote", {"symbol": symbol}, moment, body)
                yield record
                if repeat:
                    yield record
        if seen:
            done = path[:seen]
            volume = daily_volume(seed, symbol, day) * seen // len(moments)
            bars.append((day, done[0], max(done), min(done), done[-1], volume))
    if config.wants("candles"):
        start = last - timedelta(days=history - 1)
        params = {
            "symbol": symbol,
            "resolution": "D",
            "from": int(datetime.combine(start, time(0), UTC).timestamp()),
            "to": int(end.timestamp()),
        }
        yield _record(run, "candles", params, end, candle_body(bars))


def _earnings(seed: int, symbol: str, today: date, *, defect: bool) -> list[Any]:
    body = earnings_body(seed, symbol, today)
    if defect and body:
        body[-1].update(estimate=None, surprise=None, surprisePercent=None)
    return body


def _company(config: DemoConfig, run: str, symbol: str, end: datetime) -> Iterator[RawRecord]:
    """One call per company endpoint, with the parameters the Finnhub ingest sends."""
    seed, today = config.seed, end.date()
    first = config.defects and symbol == config.symbols[0]
    news_days = [today - timedelta(days=k) for k in range(config.news_days)]
    window = {"symbol": symbol, "from": news_days[-1].isoformat(), "to": today.isoformat()}
    insider_from = today - timedelta(days=INSIDER_DAYS)
    dividend_from = date(today.year - DIVIDEND_YEARS, today.month, 1)
    calls: dict[str, tuple[dict[str, Any], Callable[[], Any]]] = {
        "profile": ({"symbol": symbol}, lambda: profile_body(symbol)),
        "company_news": (
            window,
            lambda: company_news_body(seed, symbol, news_days, end, defect=first),
        ),
        "earnings": ({"symbol": symbol}, lambda: _earnings(seed, symbol, today, defect=first)),
        "recommendations": ({"symbol": symbol}, lambda: recommendations_body(seed, symbol, today)),
        "insider_transactions": (
            {"symbol": symbol, "from": insider_from.isoformat(), "to": today.isoformat()},
            lambda: insider_transactions_body(seed, symbol, insider_from, today),
        ),
        "basic_financials": (
            {"symbol": symbol, "metric": "all"},
            lambda: basic_financials_body(seed, symbol, today),
        ),
        "financials_reported": (
            {"symbol": symbol, "freq": "annual"},
            lambda: financials_reported_body(seed, symbol, today),
        ),
        "social_sentiment": (
            window,
            lambda: social_sentiment_body(seed, symbol, news_days, end),
        ),
        "dividends": (
            {"symbol": symbol, "from": dividend_from.isoformat(), "to": today.isoformat()},
            lambda: dividends_body(symbol, dividend_from, today),
        ),
    }
    for endpoint, (params, build) in calls.items():
        if config.wants(endpoint):
            yield _record(run, endpoint, params, end, build())


def _market_wide(config: DemoConfig, run: str, end: datetime) -> Iterator[RawRecord]:
    """Calls that are not about one symbol: market news, the IPO and earnings calendars."""
    seed, today = config.seed, end.date()
    news_days = [today - timedelta(days=k) for k in range(config.news_days)]
    if config.wants("market_news"):
        for category in NEWS_CATEGORIES:
            body = market_news_body(
                seed, category, news_days, end, defect=config.defects and category == "general"
            )
            yield _record(run, "market_news", {"category": category, "minId": 0}, end, body)
    if config.wants("ipo_calendar"):
        start, stop = today - timedelta(days=7), today + timedelta(days=config.calendar_days)
        params = {"from": start.isoformat(), "to": stop.isoformat()}
        yield _record(run, "ipo_calendar", params, end, ipo_calendar_body(seed, start, stop, today))
    if config.wants("earnings_calendar"):
        # Wide enough that every symbol has a past and usually a coming release in it.
        start, stop = today - timedelta(days=45), today + timedelta(days=75)
        params = {"from": start.isoformat(), "to": stop.isoformat()}
        calendar = earnings_calendar_body(seed, list(config.symbols), start, stop, today)
        yield _record(run, "earnings_calendar", params, end, calendar)


def _unknown_symbol(config: DemoConfig, run: str, end: datetime) -> Iterator[RawRecord]:
    """What Finnhub answers for a symbol it does not know: zeros and empty bodies."""
    params = {"symbol": UNKNOWN_SYMBOL}
    empty: dict[str, Any] = {
        "quote": {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0},
        "profile": {},
        "candles": {"s": "no_data"},
        "company_news": [],
        "earnings": [],
        "recommendations": [],
        "basic_financials": {
            "metric": {},
            "metricType": "all",
            "series": {},
            "symbol": UNKNOWN_SYMBOL,
        },
    }
    for endpoint, body in empty.items():
        if config.wants(endpoint):
            yield _record(run, endpoint, params, end, body)


def generate(config: DemoConfig, run: str) -> Iterator[RawRecord]:
    """Every raw record of one demo run: per symbol its market then its company data, then
    the market-wide calls."""
    end = config.end.astimezone(UTC)
    for symbol in config.symbols:
        yield from _market(config, run, symbol, end)
        yield from _company(config, run, symbol, end)
    yield from _market_wide(config, run, end)
    if config.defects:
        yield from _unknown_symbol(config, run, end)
