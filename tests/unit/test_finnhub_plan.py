"""The fetch plan: cadences, what is due, news windows and cursors, entitlement skips, state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import FINNHUB_DATASETS, Settings
from bucketpipe.ingest.finnhub.cursors import Result, advance
from bucketpipe.ingest.finnhub.endpoints import BY_DATASET, ENDPOINTS
from bucketpipe.ingest.finnhub.plan import (
    DatasetPlan,
    PlanConfig,
    build_plan,
    cadences,
    grace,
    is_due,
    news_windows,
    parse_interval,
)
from bucketpipe.ingest.finnhub.shard import Shard
from bucketpipe.ingest.finnhub.state import Denial, FinnhubState, SymbolState

NOW = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)  # a Monday
TODAY = NOW.date()


def config(**overrides: object) -> PlanConfig:
    values: dict[str, object] = {
        "symbols": ("AAPL", "MSFT"),
        "datasets": FINNHUB_DATASETS,
        "cadences": cadences(),
    }
    values.update(overrides)
    return PlanConfig(**values)  # type: ignore[arg-type]


def by_dataset(plans: list[DatasetPlan]) -> dict[str, DatasetPlan]:
    return {p.dataset: p for p in plans}


def test_the_endpoint_table_matches_the_settings_and_the_raw_contract() -> None:
    assert tuple(BY_DATASET) == FINNHUB_DATASETS
    names = {e.dataset: (e.name, e.path) for e in ENDPOINTS}
    assert names == {
        "quotes": ("quote", "/quote"),
        "company_profiles": ("profile", "/stock/profile2"),
        "company_news": ("company_news", "/company-news"),
        "market_news": ("market_news", "/news"),
        "earnings": ("earnings", "/stock/earnings"),
        "earnings_calendar": ("earnings_calendar", "/calendar/earnings"),
        "financials_reported": ("financials_reported", "/stock/financials-reported"),
        "basic_financials": ("basic_financials", "/stock/metric"),
        "insider_transactions": ("insider_transactions", "/stock/insider-transactions"),
        "recommendations": ("recommendations", "/stock/recommendation"),
        "ipo_calendar": ("ipo_calendar", "/calendar/ipo"),
        "candles": ("candles", "/stock/candle"),
        "social_sentiment": ("social_sentiment", "/stock/social-sentiment"),
        "dividends": ("dividends", "/stock/dividend"),
    }
    assert {e.dataset for e in ENDPOINTS if e.premium} == {
        "candles",
        "social_sentiment",
        "dividends",
    }
    assert {e.dataset for e in ENDPOINTS if e.scope == "market"} == {
        "market_news",
        "earnings_calendar",
        "ipo_calendar",
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), ("1.5d", 129600)],
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "1w", "abc", "m"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ConfigError, match="bad interval"):
        parse_interval(text)


def test_cadence_overrides() -> None:
    table = cadences(["company_news=30m", "quotes=0"])
    assert table["company_news"] == timedelta(minutes=30)
    assert table["quotes"] == timedelta(0)
    assert table["company_profiles"] == timedelta(days=1)
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        cadences(["nope=1d"])


def test_due_with_grace_for_schedule_jitter() -> None:
    day = timedelta(days=1)
    assert grace(day) == timedelta(minutes=10)
    assert grace(timedelta(hours=1)) == timedelta(minutes=3)
    assert is_due(None, day, NOW)
    assert is_due(NOW, timedelta(0), NOW)
    assert not is_due(NOW - timedelta(hours=23), day, NOW)
    assert is_due(NOW - timedelta(hours=23, minutes=55), day, NOW)
    assert is_due(NOW - timedelta(days=3), day, NOW)


def test_news_windows() -> None:
    d = date(2024, 5, 1)
    assert news_windows(d, d, 7) == [(d, d)]
    assert news_windows(d, d + timedelta(days=6), 7) == [(d, d + timedelta(days=6))]
    assert news_windows(d, d + timedelta(days=15), 7) == [
        (d, d + timedelta(days=6)),
        (d + timedelta(days=7), d + timedelta(days=13)),
        (d + timedelta(days=14), d + timedelta(days=15)),
    ]
    assert news_windows(d, d - timedelta(days=1), 7) == []


def test_a_first_run_fetches_everything_with_the_documented_parameters() -> None:
    plans = by_dataset(build_plan(config(), FinnhubState(), NOW))
    assert all(p.status == "due" for p in plans.values())
    params = {name: [c.params for c in plan.calls] for name, plan in plans.items()}
    start = int(datetime(2024, 4, 6, tzinfo=UTC).timestamp())
    assert params["quotes"] == [{"symbol": "AAPL"}, {"symbol": "MSFT"}]
    assert params["company_profiles"] == [{"symbol": "AAPL"}, {"symbol": "MSFT"}]
    assert params["company_news"][0] == {"symbol": "AAPL", "from": "2024-04-29", "to": "2024-05-05"}
    assert params["company_news"][1] == {"symbol": "AAPL", "from": "2024-05-06", "to": "2024-05-06"}
    assert params["market_news"] == [
        {"category": c, "minId": 0} for c in ("general", "forex", "crypto", "merger")
    ]
    assert params["earnings"][0] == {"symbol": "AAPL"}
    assert params["earnings_calendar"] == [{"from": "2024-04-29", "to": "2024-06-05"}]
    assert params["financials_reported"][0] == {"symbol": "AAPL", "freq": "annual"}
    assert params["basic_financials"][0] == {"symbol": "AAPL", "metric": "all"}
    assert params["insider_transactions"][0] == {
        "symbol": "AAPL",
        "from": "2024-02-06",
        "to": "2024-05-06",
    }
    assert params["recommendations"][0] == {"symbol": "AAPL"}
    assert params["ipo_calendar"] == [{"from": "2024-05-06", "to": "2024-06-05"}]
    assert params["candles"][0] == {
        "symbol": "AAPL",
        "resolution": "D",
        "from": start,
        "to": int(NOW.timestamp()),
    }
    assert params["social_sentiment"][0] == {
        "symbol": "AAPL",
        "from": "2024-04-29",
        "to": "2024-05-06",
    }
    assert params["dividends"][0] == {"symbol": "AAPL", "from": "2019-05-06", "to": "2024-05-06"}


def test_fetch_order_puts_quotes_first_and_premium_last() -> None:
    order = [p.dataset for p in build_plan(config(), FinnhubState(), NOW)]
    assert order[0] == "quotes"
    assert order[-3:] == ["candles", "social_sentiment", "dividends"]


def fetched_everything(at: datetime) -> FinnhubState:
    plans = build_plan(config(), FinnhubState(), at)
    results = [Result(c, True, [] if c.endpoint.body == "list" else {}) for p in plans
               for c in p.calls]  # fmt: skip
    return advance(FinnhubState(), results, at)


def test_the_next_run_fetches_only_what_is_due() -> None:
    state = fetched_everything(NOW)
    plans = by_dataset(build_plan(config(), state, NOW + timedelta(minutes=15)))
    due = sorted(name for name, plan in plans.items() if plan.status == "due")
    assert due == ["market_news", "quotes"]
    profiles = plans["company_profiles"]
    assert profiles.status == "not_due"
    assert profiles.message == "next due at 2024-05-07 14:20 UTC"
    later = by_dataset(build_plan(config(), state, NOW + timedelta(hours=1)))
    assert later["company_news"].status == "due"
    next_day = by_dataset(build_plan(config(), state, NOW + timedelta(days=1)))
    assert next_day["basic_financials"].status == "due"
    assert next_day["financials_reported"].status == "not_due"  # weekly


def test_ignore_cadence_fetches_everything_now() -> None:
    state = fetched_everything(NOW)
    plans = build_plan(config(), state, NOW + timedelta(minutes=1), ignore_cadence=True)
    assert all(p.status == "due" for p in plans)


def test_company_news_continues_from_the_last_day_fetched() -> None:
    state = FinnhubState(
        symbols={"AAPL": SymbolState(symbol="AAPL", news_through=TODAY - timedelta(days=2))}
    )
    cfg = config(symbols=("AAPL",), datasets=("company_news",))
    (plan,) = build_plan(cfg, state, NOW)
    assert [c.params for c in plan.calls] == [
        {"symbol": "AAPL", "from": "2024-05-04", "to": "2024-05-06"}
    ]


def test_a_long_news_gap_is_split_into_windows_and_capped_at_a_year() -> None:
    cfg = config(symbols=("AAPL",), datasets=("company_news",), news_window_days=30)
    gap = FinnhubState(
        symbols={"AAPL": SymbolState(symbol="AAPL", news_through=TODAY - timedelta(days=70))}
    )
    (plan,) = build_plan(cfg, gap, NOW)
    windows = [c.window for c in plan.calls]
    assert windows == news_windows(TODAY - timedelta(days=70), TODAY, 30)
    assert len(windows) == 3
    ancient = FinnhubState(
        symbols={"AAPL": SymbolState(symbol="AAPL", news_through=date(2015, 1, 1))}
    )
    (plan,) = build_plan(cfg, ancient, NOW)
    assert plan.calls[0].params["from"] == (TODAY - timedelta(days=365)).isoformat()


def test_market_news_asks_only_for_newer_items() -> None:
    state = FinnhubState()
    state.market.news_min_id = {"general": 7001, "crypto": 9}
    cfg = config(datasets=("market_news",), categories=("general", "crypto", "merger"))
    (plan,) = build_plan(cfg, state, NOW)
    assert [c.params for c in plan.calls] == [
        {"category": "general", "minId": 7001},
        {"category": "crypto", "minId": 9},
        {"category": "merger", "minId": 0},
    ]


def denial(dataset: str, at: datetime) -> Denial:
    return Denial(dataset=dataset, path="/stock/candle", denied_at=at, message="HTTP 403")


def test_a_refused_dataset_is_skipped_for_the_retry_period() -> None:
    state = FinnhubState(denials={"candles": denial("candles", NOW)})
    cfg = config(datasets=("candles", "quotes"))
    soon = by_dataset(build_plan(cfg, state, NOW + timedelta(hours=23)))
    assert soon["candles"].status == "skipped"
    assert soon["candles"].calls == ()
    assert soon["candles"].message == (
        "not in the API plan (HTTP 403 at 2024-05-06 14:30 UTC); "
        "tried again after 2024-05-07 14:30 UTC"
    )
    assert soon["quotes"].status == "due"
    later = by_dataset(build_plan(cfg, state, NOW + timedelta(hours=24)))
    assert later["candles"].status == "due"
    short = config(datasets=("candles",), entitlement_retry=timedelta(hours=1))
    assert build_plan(short, state, NOW + timedelta(hours=2))[0].status == "due"


def test_shards_split_symbols_and_only_shard_0_fetches_market_data() -> None:
    symbols = tuple(f"S{i:02d}" for i in range(20))
    cfg = config(symbols=symbols, datasets=("quotes", "market_news", "ipo_calendar"))
    seen: list[str] = []
    for index in range(3):
        plans = by_dataset(build_plan(cfg, FinnhubState(), NOW, shard=Shard(index, 3)))
        seen += [c.params["symbol"] for c in plans["quotes"].calls]
        market = plans["market_news"].status, plans["ipo_calendar"].status
        assert market == (("due", "due") if index == 0 else ("skipped", "skipped"))
    assert sorted(seen) == sorted(symbols)


def test_a_shard_without_symbols_skips_the_symbol_endpoints() -> None:
    cfg = config(symbols=("AAPL",), datasets=("quotes",))
    owner = Shard(0, 2) if Shard(0, 2).owns("AAPL") else Shard(1, 2)
    other = Shard(1 - owner.index, 2)
    assert build_plan(cfg, FinnhubState(), NOW, shard=owner)[0].status == "due"
    (plan,) = build_plan(cfg, FinnhubState(), NOW, shard=other)
    assert (plan.status, plan.message) == ("skipped", "no symbols in this shard")


def test_plan_config_from_settings() -> None:
    settings = Settings(
        symbols="aapl, msft,AAPL",
        finnhub_cadences="company_news=30m",
        finnhub_news_categories="general,crypto",
        finnhub_entitlement_retry_hours=6,
    )
    cfg = PlanConfig.from_settings(settings)
    assert cfg.symbols == ("AAPL", "MSFT")
    assert cfg.cadences["company_news"] == timedelta(minutes=30)
    assert cfg.categories == ("general", "crypto")
    assert cfg.entitlement_retry == timedelta(hours=6)
    narrowed = PlanConfig.from_settings(settings, datasets=["quotes"], symbols=["tsla"])
    assert (narrowed.datasets, narrowed.symbols) == (("quotes",), ("TSLA",))
    with pytest.raises(ConfigError, match="unknown Finnhub datasets"):
        PlanConfig.from_settings(settings, datasets=["quotes", "gossip"])
