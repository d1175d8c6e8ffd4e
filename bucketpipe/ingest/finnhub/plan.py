"""The fetch plan (pure): which calls a run makes, from the settings, the state and the clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.ingest.finnhub.endpoints import BY_DATASET, ENDPOINTS, Endpoint
from bucketpipe.ingest.finnhub.shard import Shard
from bucketpipe.ingest.finnhub.state import Denial, FinnhubState

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Finnhub serves about a year of company news; a longer gap is not worth the calls.
NEWS_MAX_CATCH_UP_DAYS = 365
EARNINGS_CALENDAR_PAST_DAYS = 7
SOCIAL_SENTIMENT_DAYS = 7
MAX_GRACE = timedelta(minutes=10)

PlanStatus = Literal["due", "not_due", "skipped"]


def parse_interval(text: str) -> timedelta:
    """`0` (every run), `90s`, `30m`, `6h`, `1d`, `1.5d`."""
    text = text.strip().lower()
    if text == "0":
        return timedelta(0)
    try:
        return timedelta(seconds=float(text[:-1]) * _UNITS[text[-1]])
    except (KeyError, ValueError, IndexError):
        raise ConfigError(f"bad interval {text!r}: use 0, 90s, 30m, 6h or 1d") from None


def cadences(overrides: Iterable[str] = ()) -> dict[str, timedelta]:
    """Each dataset's refresh interval: the endpoint table's, overridden by `dataset=interval`."""
    out = {e.dataset: e.cadence for e in ENDPOINTS}
    for item in overrides:
        name, _, interval = item.partition("=")
        if name.strip() not in out:
            raise ConfigError(f"bad cadence {item!r}: unknown dataset {name.strip()!r}")
        out[name.strip()] = parse_interval(interval)
    return out


@dataclass(frozen=True)
class PlanConfig:
    """What the plan depends on besides state and time (built from settings and arguments)."""

    symbols: tuple[str, ...]
    datasets: tuple[str, ...]
    cadences: Mapping[str, timedelta]
    categories: tuple[str, ...] = ("general", "forex", "crypto", "merger")
    news_days: int = 7
    news_window_days: int = 7
    candle_days: int = 30
    insider_days: int = 90
    dividend_years: int = 5
    calendar_days: int = 30
    entitlement_retry: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        datasets: Sequence[str] | None = None,
        symbols: Sequence[str] | None = None,
    ) -> PlanConfig:
        chosen = list(datasets) if datasets is not None else list(settings.finnhub_datasets)
        unknown = sorted(set(chosen) - set(BY_DATASET))
        if unknown:
            raise ConfigError(f"unknown Finnhub datasets {unknown}; known: {list(BY_DATASET)}")
        return cls(
            symbols=tuple(dict.fromkeys(s.strip().upper() for s in symbols or settings.symbols)),
            datasets=tuple(chosen),
            cadences=cadences(settings.finnhub_cadences),
            categories=tuple(settings.finnhub_news_categories),
            news_days=settings.finnhub_news_days,
            news_window_days=settings.finnhub_news_window_days,
            candle_days=settings.finnhub_candle_days,
            insider_days=settings.finnhub_insider_days,
            dividend_years=settings.finnhub_dividend_years,
            calendar_days=settings.finnhub_calendar_days,
            entitlement_retry=timedelta(hours=settings.finnhub_entitlement_retry_hours),
        )


@dataclass(frozen=True)
class Call:
    """One planned API call. `unit` is what state tracks it under: a symbol, a news category
    (`market_news:general`) or the dataset itself for the calendars."""

    endpoint: Endpoint
    params: dict[str, Any]
    unit: str
    window: tuple[date, date] | None = None

    @property
    def dataset(self) -> str:
        return self.endpoint.dataset


@dataclass(frozen=True)
class DatasetPlan:
    """What a run does about one dataset."""

    endpoint: Endpoint
    status: PlanStatus
    calls: tuple[Call, ...] = ()
    message: str | None = None

    @property
    def dataset(self) -> str:
        return self.endpoint.dataset


def grace(cadence: timedelta) -> timedelta:
    """Slack on a cadence so that schedule jitter does not postpone data by a whole run."""
    return min(cadence / 20, MAX_GRACE)


def is_due(last: datetime | None, cadence: timedelta, now: datetime) -> bool:
    if last is None or cadence <= timedelta(0):
        return True
    return now - last >= cadence - grace(cadence)


def denial_active(denial: Denial | None, now: datetime, retry: timedelta) -> bool:
    """True while a 403 still holds: the dataset is skipped until `retry` has passed."""
    return denial is not None and now < denial.denied_at + retry


def news_windows(start: date, end: date, days: int) -> list[tuple[date, date]]:
    """[start, end] cut into windows of at most `days` days (both ends inclusive)."""
    windows = []
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        windows.append((start, stop))
        start = stop + timedelta(days=1)
    return windows


def _years_back(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _symbol_params(ep: Endpoint, symbol: str, now: datetime, cfg: PlanConfig) -> dict[str, Any]:
    today = now.astimezone(UTC).date()
    iso = date.isoformat
    match ep.dataset:
        case "financials_reported":
            return {"symbol": symbol, "freq": "annual"}
        case "basic_financials":
            return {"symbol": symbol, "metric": "all"}
        case "insider_transactions":
            since = today - timedelta(days=cfg.insider_days)
            return {"symbol": symbol, "from": iso(since), "to": iso(today)}
        case "candles":
            start = datetime.combine(today - timedelta(days=cfg.candle_days), time(), UTC)
            return {
                "symbol": symbol,
                "resolution": "D",
                "from": int(start.timestamp()),
                "to": int(now.timestamp()),
            }
        case "social_sentiment":
            since = today - timedelta(days=SOCIAL_SENTIMENT_DAYS)
            return {"symbol": symbol, "from": iso(since), "to": iso(today)}
        case "dividends":
            since = _years_back(today, cfg.dividend_years)
            return {"symbol": symbol, "from": iso(since), "to": iso(today)}
        case _:
            return {"symbol": symbol}


def _news_calls(
    ep: Endpoint, symbol: str, through: date | None, now: datetime, cfg: PlanConfig
) -> list[Call]:
    today = now.astimezone(UTC).date()
    # The last day fetched is fetched again: articles of that day may have come in later.
    start = through if through is not None else today - timedelta(days=cfg.news_days)
    start = min(today, max(start, today - timedelta(days=NEWS_MAX_CATCH_UP_DAYS)))
    return [
        Call(ep, {"symbol": symbol, "from": a.isoformat(), "to": b.isoformat()}, symbol, (a, b))
        for a, b in news_windows(start, today, cfg.news_window_days)
    ]


def _market_calls(
    ep: Endpoint, state: FinnhubState, now: datetime, cfg: PlanConfig
) -> list[tuple[Call, datetime | None]]:
    today = now.astimezone(UTC).date()
    ahead = (today + timedelta(days=cfg.calendar_days)).isoformat()
    fetched = state.market.fetched
    if ep.dataset == "market_news":
        out = []
        for category in cfg.categories:
            unit = f"market_news:{category}"
            min_id = state.market.news_min_id.get(category, 0)
            params = {"category": category, "minId": min_id}
            out.append((Call(ep, params, unit), fetched.get(unit)))
        return out
    if ep.dataset == "earnings_calendar":
        since = (today - timedelta(days=EARNINGS_CALENDAR_PAST_DAYS)).isoformat()
        return [(Call(ep, {"from": since, "to": ahead}, ep.dataset), fetched.get(ep.dataset))]
    if ep.dataset == "ipo_calendar":
        call = Call(ep, {"from": today.isoformat(), "to": ahead}, ep.dataset)
        return [(call, fetched.get(ep.dataset))]
    raise ValueError(f"no market-wide plan for {ep.dataset}")


def _candidates(
    ep: Endpoint, symbols: Sequence[str], state: FinnhubState, now: datetime, cfg: PlanConfig
) -> list[tuple[list[Call], datetime | None]]:
    """Every unit of a dataset: its calls and when it was last fetched."""
    if ep.scope == "market":
        return [([call], last) for call, last in _market_calls(ep, state, now, cfg)]
    out = []
    for symbol in symbols:
        doc = state.symbol(symbol)
        if ep.dataset == "company_news":
            calls = _news_calls(ep, symbol, doc.news_through, now, cfg)
        else:
            calls = [Call(ep, _symbol_params(ep, symbol, now, cfg), symbol)]
        out.append((calls, doc.fetched.get(ep.dataset)))
    return out


def plan_dataset(
    ep: Endpoint,
    cfg: PlanConfig,
    state: FinnhubState,
    now: datetime,
    *,
    shard: Shard | None = None,
    ignore_cadence: bool = False,
) -> DatasetPlan:
    """What this run does about one dataset."""
    denial = state.denials.get(ep.dataset)
    if denial is not None and denial_active(denial, now, cfg.entitlement_retry):
        until = denial.denied_at + cfg.entitlement_retry
        return DatasetPlan(
            ep,
            "skipped",
            message=f"not in the API plan (HTTP 403 at {denial.denied_at:%Y-%m-%d %H:%M} UTC); "
            f"tried again after {until:%Y-%m-%d %H:%M} UTC",
        )
    if ep.scope == "market" and shard is not None and not shard.fetches_market:
        return DatasetPlan(ep, "skipped", message="market-wide: fetched by shard 0")
    symbols = shard.symbols(cfg.symbols) if shard is not None else list(cfg.symbols)
    if ep.scope == "symbol" and not symbols:
        return DatasetPlan(ep, "skipped", message="no symbols in this shard")
    cadence = cfg.cadences.get(ep.dataset, ep.cadence)
    calls: list[Call] = []
    waiting: list[datetime] = []
    for unit_calls, last in _candidates(ep, symbols, state, now, cfg):
        if ignore_cadence or is_due(last, cadence, now):
            calls += unit_calls
        elif last is not None:
            waiting.append(last + cadence - grace(cadence))
    if calls:
        return DatasetPlan(ep, "due", tuple(calls))
    return DatasetPlan(ep, "not_due", message=f"next due at {min(waiting):%Y-%m-%d %H:%M} UTC")


def build_plan(
    cfg: PlanConfig,
    state: FinnhubState,
    now: datetime,
    *,
    shard: Shard | None = None,
    ignore_cadence: bool = False,
) -> list[DatasetPlan]:
    """The plan of every selected dataset, in fetch order (quotes first, premium last)."""
    return [
        plan_dataset(ep, cfg, state, now, shard=shard, ignore_cadence=ignore_cadence)
        for ep in ENDPOINTS
        if ep.dataset in cfg.datasets
    ]
