"""The demo source: deterministic, shaped like Finnhub for every endpoint, with its defects."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from bucketpipe import catalog
from bucketpipe.ingest.demo.generate import (
    ENDPOINTS,
    PREMIUM,
    UNKNOWN_SYMBOL,
    DemoConfig,
    generate,
    trading_days,
)
from bucketpipe.lake.raw import RawRecord, encode_line

SYMBOLS = ["AAPL", "MSFT", "TSLA"]
FRIDAY_AFTERNOON = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def config(**overrides: Any) -> DemoConfig:
    values: dict[str, Any] = {
        "symbols": SYMBOLS,
        "days": 30,
        "interval_minutes": 15,
        "seed": 7,
        "end": FRIDAY_AFTERNOON,
    }
    values.update(overrides)
    return DemoConfig(**values)


def records(**overrides: Any) -> list[RawRecord]:
    return list(generate(config(**overrides), "ingest-1"))


def calls(recs: list[RawRecord], endpoint: str, symbol: str | None = None) -> list[RawRecord]:
    return [
        r
        for r in recs
        if r.endpoint == endpoint and (symbol is None or r.params.get("symbol") == symbol)
    ]


def body(recs: list[RawRecord], endpoint: str, symbol: str | None = None) -> Any:
    [record] = calls(recs, endpoint, symbol)
    return record.body


def test_generation_is_deterministic() -> None:
    first = [encode_line(r) for r in records()]
    again = [encode_line(r) for r in records()]
    assert first == again
    other_seed = [encode_line(r) for r in records(seed=8)]
    assert other_seed != first


def test_every_endpoint_is_called_with_its_path_and_no_credentials() -> None:
    recs = records()
    seen = {r.endpoint: r.path for r in recs}
    assert seen == ENDPOINTS
    assert all(r.status == 200 and r.source == "demo" for r in recs)
    for r in recs:
        assert not {"token", "apikey", "api_key"} & {k.lower() for k in r.params}
    per_symbol = Counter(r.endpoint for r in recs if r.params.get("symbol") == "MSFT")
    for endpoint in set(ENDPOINTS) - {"quote", "market_news", "ipo_calendar", "earnings_calendar"}:
        assert per_symbol[endpoint] == 1, endpoint
    categories = {r.params["category"] for r in calls(recs, "market_news")}
    assert categories == {"general", "forex", "crypto", "merger"}


def test_a_free_key_gets_no_premium_endpoints() -> None:
    recs = records(premium=False)
    assert not {r.endpoint for r in recs} & PREMIUM
    assert calls(recs, "quote", "AAPL")


def test_endpoints_can_be_limited() -> None:
    recs = records(endpoints=frozenset({"quote"}), defects=False)
    assert {r.endpoint for r in recs} == {"quote"}


@pytest.mark.parametrize(
    ("end", "days", "sessions"),
    [
        # Monday before the open: the last three calendar days hold no session of their
        # own, so the window ends on Friday (Wednesday to Friday).
        (
            datetime(2026, 12, 7, 0, 29, tzinfo=UTC),
            3,
            [date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 4)],
        ),
        (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), 1, [date(2026, 12, 4)]),
        (datetime(2026, 12, 7, 14, 30, tzinfo=UTC), 1, [date(2026, 12, 7)]),
        (FRIDAY_AFTERNOON, 3, [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]),
    ],
)
def test_the_quote_window_ends_on_the_last_session_opened(
    end: datetime, days: int, sessions: list[date]
) -> None:
    recs = records(end=end, days=days, endpoints=frozenset({"quote", "candles"}))
    quoted = sorted({r.requested_at.date() for r in calls(recs, "quote", "AAPL")})
    assert quoted == sessions
    candles = body(recs, "candles", "AAPL")
    last_bar = datetime.fromtimestamp(candles["t"][-1], UTC).date()
    assert last_bar == sessions[-1]
    assert all(r.requested_at <= end for r in recs)


def test_candles_agree_with_the_quote_path() -> None:
    recs = records(defects=False, days=10, history_days=10)
    candles = body(recs, "candles", "AAPL")
    assert candles["s"] == "ok"
    assert len({len(candles[k]) for k in "cohltv"}) == 1
    quotes: dict[date, list[dict[str, Any]]] = {}
    for r in calls(recs, "quote", "AAPL"):
        quotes.setdefault(r.requested_at.date(), []).append(r.body)
    assert len(candles["t"]) == len(quotes) == len(trading_days(FRIDAY_AFTERNOON.date(), 10))
    for i, t in enumerate(candles["t"]):
        moment = datetime.fromtimestamp(t, UTC)
        assert (moment.hour, moment.minute) == (0, 0)
        day = quotes[moment.date()]
        assert candles["o"][i] == day[0]["o"]
        assert candles["h"][i] == max(q["h"] for q in day)
        assert candles["l"][i] == min(q["l"] for q in day)
        assert candles["c"][i] == day[-1]["c"]
        assert candles["v"][i] > 0
    # Friday is still trading at 18:00: its candle so far is the quotes so far.
    assert quotes[FRIDAY_AFTERNOON.date()][-1]["t"] == int(FRIDAY_AFTERNOON.timestamp())


def test_candles_reach_further_back_than_quotes() -> None:
    recs = records(defects=False, days=10)  # history_days defaults to 120
    candles = body(recs, "candles", "AAPL")
    first = datetime.fromtimestamp(candles["t"][0], UTC).date()
    assert first <= FRIDAY_AFTERNOON.date() - timedelta(days=100)
    assert len(candles["t"]) >= 80


def test_overlapping_runs_describe_the_same_world() -> None:
    early = records(defects=False)
    later = records(defects=False, end=FRIDAY_AFTERNOON + timedelta(days=3))
    ids = {a["id"]: a for a in body(early, "company_news", "AAPL")}
    later_ids = {a["id"]: a for a in body(later, "company_news", "AAPL")}
    shared = ids.keys() & later_ids.keys()
    assert shared and all(ids[i] == later_ids[i] for i in shared)
    early_earnings = {e["period"]: e for e in body(early, "earnings", "MSFT")}
    for item in body(later, "earnings", "MSFT"):
        if item["period"] in early_earnings:
            assert item == early_earnings[item["period"]]
    moments = {r.requested_at: r.body for r in calls(early, "quote", "TSLA")}
    for r in calls(later, "quote", "TSLA"):
        if r.requested_at in moments:
            assert r.body == moments[r.requested_at]


def damaged_moments(recs: list[RawRecord]) -> set[tuple[str, datetime]]:
    """(symbol, moment) of every quote the demo damaged: a missing or non-positive price,
    a price far from its previous close, or a missing change field."""
    out = set()
    for r in calls(recs, "quote"):
        if r.params["symbol"] == UNKNOWN_SYMBOL:
            continue  # every answer for it is empty, as Finnhub's
        quote = r.body
        price, previous = quote.get("c"), quote.get("pc")
        whole = {"c", "d", "dp", "pc"} <= quote.keys()
        if not whole or price <= 0 or not 0.5 < price / previous < 2:
            out.add((r.params["symbol"], r.requested_at))
    return out


def test_defects_fall_on_the_same_moments_under_every_seed_and_end() -> None:
    # A re-ingest by another seed (another market) or another run damages exactly the
    # moments the first did: no good quote of one delivery stands where the other's was
    # rejected, where the merge would keep it beside the other market's prices.
    first = damaged_moments(records())
    assert len(first) > 10
    assert damaged_moments(records(seed=13)) == first
    # A later run delivers the last days whole (each was the day of its newest quote once).
    later = records(end=FRIDAY_AFTERNOON + timedelta(days=3))
    both = {
        (r.params["symbol"], r.requested_at)
        for r in calls(later, "quote")
        if r.requested_at < FRIDAY_AFTERNOON - timedelta(days=1)
    }
    assert len(both & first) > 5
    assert damaged_moments(later) & both == first & both


def test_a_days_newest_quote_is_never_damaged() -> None:
    # The closing quote of every past day, and the newest quote of the day in progress, are
    # whole: each day's last quote is its candle's close.
    recs = records()
    damaged = damaged_moments(recs)
    newest: dict[tuple[str, date], datetime] = {}
    for r in calls(recs, "quote"):
        day = (r.params["symbol"], r.requested_at.date())
        newest[day] = max(newest.get(day, r.requested_at), r.requested_at)
    assert len(newest) > 60
    assert not damaged & {(symbol, moment) for (symbol, _), moment in newest.items()}


def test_bodies_have_finnhub_shapes() -> None:
    recs = records(defects=False)
    news = body(recs, "company_news", "AAPL")
    assert news and set(news[0]) >= {"category", "datetime", "headline", "id", "source", "url"}
    assert all(a["url"].startswith("https://example.com/") for a in news)
    assert all(a["datetime"] <= FRIDAY_AFTERNOON.timestamp() for a in news)
    calendar = body(recs, "earnings_calendar")["earningsCalendar"]
    assert {e["symbol"] for e in calendar} == set(SYMBOLS)
    assert all(e["epsActual"] is None for e in calendar if e["date"] > "2026-11-20")
    filings = body(recs, "financials_reported", "AAPL")["data"]
    assert len(filings) == 3 and all(f["form"] == "10-K" for f in filings)
    report = filings[0]["report"]
    assets = {x["concept"]: x["value"] for x in report["bs"]}
    assert (
        assets["us-gaap_Assets"]
        == assets["us-gaap_Liabilities"] + (assets["us-gaap_StockholdersEquity"])
    )
    metric = body(recs, "basic_financials", "AAPL")["metric"]
    assert metric["52WeekHigh"] >= metric["52WeekLow"] > 0
    assert body(recs, "dividends", "TSLA") == []  # Tesla pays no dividend
    assert len(body(recs, "dividends", "AAPL")) >= 19  # quarterly, five years
    sentiment = body(recs, "social_sentiment", "MSFT")
    assert set(sentiment) == {"symbol", "reddit", "twitter"} and sentiment["reddit"]
    ipos = body(recs, "ipo_calendar")["ipoCalendar"]
    assert ipos and all(i["status"] in {"priced", "expected", "filed"} for i in ipos)
    insiders = body(recs, "insider_transactions", "AAPL")
    assert insiders["symbol"] == "AAPL" and insiders["data"]
    recommendations = body(recs, "recommendations", "AAPL")
    assert [r["period"] for r in recommendations][:2] == ["2026-11-01", "2026-10-01"]


def test_defects_are_present_only_when_asked_for() -> None:
    recs = records()
    news = body(recs, "company_news", SYMBOLS[0])
    assert len(news) == len({a["id"] for a in news}) + 1  # one article twice
    earnings = body(recs, "earnings", SYMBOLS[0])
    assert [e["estimate"] for e in earnings].count(None) == 1
    general = [r.body for r in calls(recs, "market_news") if r.params["category"] == "general"]
    assert sum(1 for a in general[0] if a["headline"] == "") == 1
    assert body(recs, "candles", UNKNOWN_SYMBOL) == {"s": "no_data"}
    assert body(recs, "basic_financials", UNKNOWN_SYMBOL)["metric"] == {}

    clean = records(defects=False)
    assert not calls(clean, "quote", UNKNOWN_SYMBOL)
    news = body(clean, "company_news", SYMBOLS[0])
    assert len(news) == len({a["id"] for a in news})
    assert None not in [e["estimate"] for e in body(clean, "earnings", SYMBOLS[0])]


def raw_relation(recs: list[RawRecord]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE raw (run VARCHAR, source VARCHAR, endpoint VARCHAR, path VARCHAR, "
        "params JSON, requested_at TIMESTAMPTZ, status INTEGER, error VARCHAR, body JSON)"
    )
    con.executemany(
        "INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                r.run,
                r.source,
                r.endpoint,
                r.path,
                json.dumps(r.params),
                r.requested_at,
                r.status,
                r.error,
                json.dumps(r.body),
            ]
            for r in recs
        ],
    )
    return con


def test_clean_demo_data_passes_every_dataset_rule() -> None:
    con = raw_relation(records(defects=False, days=10, history_days=30))
    for spec in catalog.specs():
        if not spec.endpoints:
            continue
        rejected = con.execute(
            f"SELECT _reject_reason, count(*) FROM ({spec.extract_sql('raw')}) "
            "GROUP BY ALL HAVING _reject_reason IS NOT NULL"
        ).fetchall()
        total = con.execute(f"SELECT count(*) FROM ({spec.extract_sql('raw')})").fetchone()
        assert rejected == [], spec.name
        assert total is not None and total[0] > 0, spec.name


def test_demo_defects_are_caught_by_the_rules() -> None:
    con = raw_relation(records(days=10, history_days=30))
    reasons: dict[str, set[str]] = {}
    for name in ("market_news", "basic_financials", "quotes", "company_profiles"):
        sql = catalog.get(name).extract_sql("raw")
        rows = con.execute(f"SELECT DISTINCT _reject_reason FROM ({sql})").fetchall()
        reasons[name] = {str(r[0]) for r in rows if r[0] is not None}
    assert "missing headline" in reasons["market_news"]
    assert "unknown symbol: no metrics" in reasons["basic_financials"]
    assert "unknown symbol: all-zero quote" in reasons["quotes"]
    assert "unknown symbol: empty profile" in reasons["company_profiles"]
