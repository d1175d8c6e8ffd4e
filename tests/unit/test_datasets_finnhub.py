"""Finnhub datasets: every endpoint's body becomes typed rows, bad items get a reason.

Bodies follow Finnhub's published API documentation; the raw relation is built in an
in-memory DuckDB exactly as clean reads raw files (same column types).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bucketpipe import catalog
from bucketpipe.catalog.spec import Arrays, Column, DatasetSpec, Zipped

FETCHED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SAMPLES = Path(__file__).parents[1] / "support" / "finnhub_samples"
ENDPOINTS = (
    "quote",
    "profile",
    "company_news",
    "market_news",
    "earnings",
    "earnings_calendar",
    "financials_reported",
    "basic_financials",
    "insider_transactions",
    "recommendations",
    "ipo_calendar",
    "candles",
    "social_sentiment",
    "dividends",
)


def line(endpoint: str, body: Any, **params: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "body": body, "params": params}


def raw_table(lines: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory `raw` relation with the raw files' column types."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE raw (run VARCHAR, source VARCHAR, endpoint VARCHAR, path VARCHAR, "
        "params JSON, requested_at TIMESTAMPTZ, status INTEGER, error VARCHAR, body JSON)"
    )
    for item in lines:
        con.execute(
            "INSERT INTO raw VALUES (?, 'finnhub', ?, NULL, ?, ?, ?, NULL, ?)",
            [
                "ingest-1",
                item["endpoint"],
                json.dumps(item.get("params", {})),
                item.get("requested_at", FETCHED),
                item.get("status", 200),
                json.dumps(item["body"]),
            ],
        )
    return con


def extract(dataset: str, *lines: dict[str, Any]) -> list[dict[str, Any]]:
    cur = raw_table(list(lines)).execute(catalog.get(dataset).extract_sql("raw"))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def accepted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["_reject_reason"] is None]


def reasons(rows: list[dict[str, Any]]) -> list[str]:
    return [r["_reject_reason"] for r in rows]


# --- bodies as Finnhub documents them ---------------------------------------------------------
NEWS_ITEM = {
    "category": "company",
    "datetime": 1795100000,
    "headline": "Apple unveils new products",
    "id": 7352719,
    "image": "https://example.com/a.jpg",
    "related": "AAPL",
    "source": "Reuters",
    "summary": "A summary.",
    "url": "https://example.com/a",
}
EARNINGS = [
    {
        "actual": 1.88,
        "estimate": 1.9744,
        "period": "2026-06-30",
        "quarter": 2,
        "surprise": -0.0944,
        "surprisePercent": -4.7812,
        "symbol": "AAPL",
        "year": 2026,
    },
    {"actual": 2.0, "estimate": 1.6, "period": "2026-03-31", "quarter": 1, "symbol": "AAPL"},
]
CALENDAR = {
    "earningsCalendar": [
        {
            "date": "2026-12-02",
            "epsActual": None,
            "epsEstimate": 4.5474,
            "hour": "amc",
            "quarter": 4,
            "revenueActual": None,
            "revenueEstimate": 88496400810,
            "symbol": "AAPL",
            "year": 2026,
        }
    ]
}
FILING = {
    "accessNumber": "0000320193-26-000106",
    "symbol": "AAPL",
    "cik": "320193",
    "year": 2025,
    "quarter": 0,
    "form": "10-K",
    "startDate": "2024-09-29 00:00:00",
    "endDate": "2025-09-27 00:00:00",
    "filedDate": "2025-10-31 00:00:00",
    "acceptedDate": "2025-10-30 18:04:43",
    "report": {
        "bs": [
            {"concept": "us-gaap_Assets", "label": "Total assets", "unit": "usd", "value": 3.6e11},
            {
                "concept": "us-gaap_Liabilities",
                "label": "Liabilities",
                "unit": "usd",
                "value": 3e11,
            },
        ],
        "ic": [
            {
                "concept": "us-gaap_RevenueFromContractWithCustomerExcludingAssessedTax",
                "label": "Net sales",
                "unit": "usd",
                "value": 4.1e11,
            },
            {
                "concept": "us-gaap_NetIncomeLoss",
                "label": "Net income",
                "unit": "usd",
                "value": 1e11,
            },
            {
                "concept": "us-gaap_EarningsPerShareDiluted",
                "label": "Diluted",
                "unit": "usd/shares",
                "value": 6.08,
            },
        ],
        "cf": [
            {
                "concept": "us-gaap_NetCashProvidedByUsedInOperatingActivities",
                "label": "Cash from operations",
                "unit": "usd",
                "value": 1.1e11,
            }
        ],
    },
}
METRICS = {
    "metric": {
        "10DayAverageTradingVolume": 32.50147,
        "52WeekHigh": 310.43,
        "52WeekHighDate": "2026-10-01",
        "52WeekLow": 149.22,
        "52WeekLowDate": "2026-01-14",
        "52WeekPriceReturnDaily": 101.96334,
        "beta": 1.2989,
        "peTTM": 31.5,
        "epsTTM": 6.3,
        "dividendYieldIndicatedAnnual": 0.45,
        "marketCapitalization": 3.1e6,
        "totalDebt/totalEquityQuarterly": 1.52,
    },
    "metricType": "all",
    "series": {"annual": {"eps": [{"period": "2025-09-27", "v": 6.08}]}},
    "symbol": "AAPL",
}
INSIDERS = {
    "data": [
        {
            "name": "Doe Jane",
            "share": 57234,
            "change": -1250,
            "filingDate": "2026-11-05",
            "transactionDate": "2026-11-03",
            "transactionCode": "S",
            "transactionPrice": 265.81,
        }
    ],
    "symbol": "TSLA",
}
RECOMMENDATIONS = [
    {
        "buy": 24,
        "hold": 7,
        "period": "2026-11-01",
        "sell": 0,
        "strongBuy": 13,
        "strongSell": 0,
        "symbol": "AAPL",
    }
]
IPOS = {
    "ipoCalendar": [
        {
            "date": "2026-11-25",
            "exchange": "NASDAQ Global",
            "name": "Northwind Robotics Inc",
            "numberOfShares": 7500000,
            "price": "14.00-16.00",
            "status": "expected",
            "symbol": "nwro",
            "totalSharesValue": 120000000,
        },
        {"date": "2026-11-27", "name": "Bluefin Foods Inc", "price": "", "status": "filed"},
    ]
}
CANDLES = {
    "c": [217.68, 221.03],
    "h": [222.49, 221.5],
    "l": [217.19, 217.1402],
    "o": [221.03, 218.55],
    "s": "ok",
    "t": [1795046400, 1795132800],
    "v": [33463820, 24018876],
}
SENTIMENT = {
    "reddit": [
        {
            "atTime": "2026-11-19 00:00:00",
            "mention": 17,
            "negativeMention": 2,
            "negativeScore": -0.5,
            "positiveMention": 12,
            "positiveScore": 0.9,
            "score": 0.7,
        }
    ],
    "twitter": [
        {
            "atTime": "2026-11-19 00:00:00",
            "mention": 300,
            "negativeMention": 100,
            "negativeScore": 0.6,
            "positiveMention": 150,
            "positiveScore": 0.7,
            "score": 0.2,
        }
    ],
    "symbol": "AAPL",
}
DIVIDENDS = [
    {
        "symbol": "AAPL",
        "date": "2026-11-07",
        "amount": 0.26,
        "adjustedAmount": 0.26,
        "payDate": "2026-11-14",
        "recordDate": "2026-11-10",
        "declarationDate": "2026-10-30",
        "currency": "USD",
    }
]
QUOTE = {"c": 261.74, "d": 2.3, "dp": 0.89, "h": 263.31, "l": 260.68, "o": 261.07, "pc": 259.44}
PROFILE = {"ticker": "AAPL", "name": "Apple Inc", "marketCapitalization": 3.9e6}
DOC_BODIES: dict[str, tuple[Any, dict[str, Any]]] = {
    "quote": ({**QUOTE, "t": 1795100000}, {"symbol": "AAPL"}),
    "profile": (PROFILE, {"symbol": "AAPL"}),
    "company_news": ([NEWS_ITEM], {"symbol": "AAPL", "from": "2026-11-13", "to": "2026-11-20"}),
    "market_news": ([{**NEWS_ITEM, "category": "general"}], {"category": "general"}),
    "earnings": (EARNINGS, {"symbol": "AAPL"}),
    "earnings_calendar": (CALENDAR, {"from": "2026-11-13", "to": "2026-12-20"}),
    "financials_reported": ({"cik": "320193", "data": [FILING], "symbol": "AAPL"}, {}),
    "basic_financials": (METRICS, {"symbol": "AAPL", "metric": "all"}),
    "insider_transactions": (INSIDERS, {"symbol": "TSLA"}),
    "recommendations": (RECOMMENDATIONS, {"symbol": "AAPL"}),
    "ipo_calendar": (IPOS, {"from": "2026-11-20", "to": "2026-12-20"}),
    "candles": (CANDLES, {"symbol": "AAPL", "resolution": "D"}),
    "social_sentiment": (SENTIMENT, {"symbol": "AAPL"}),
    "dividends": (DIVIDENDS, {"symbol": "AAPL"}),
}


def sample_bodies() -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(origin, endpoint, body, params): the documented bodies, plus the fake server's
    samples (`tests/support/finnhub_samples/<endpoint>.json`, plain bodies) when they exist."""
    out = [("docs", e, body, params) for e, (body, params) in DOC_BODIES.items()]
    for path in sorted(SAMPLES.glob("*.json")) if SAMPLES.is_dir() else []:
        if path.stem in ENDPOINTS:
            out.append(("sample", path.stem, json.loads(path.read_text()), {"symbol": "AAPL"}))
    return out


def sample_endpoint(stem: str) -> str | None:
    """The endpoint a variant sample (`candles_no_data`, `quote_unknown`) belongs to."""
    if stem in ENDPOINTS:
        return None
    found = [e for e in ENDPOINTS if stem.startswith(e + "_")]
    return max(found, key=len) if found else None


UNKNOWN_BODIES: list[tuple[str, str, Any]] = [
    ("docs-quote_unknown", "quote", {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "pc": 0}),
    ("docs-profile_unknown", "profile", {}),
    ("docs-candles_no_data", "candles", {"s": "no_data"}),
    ("docs-basic_financials_unknown", "basic_financials", {"metric": {}, "symbol": "ZZZZQ"}),
]


def unknown_bodies() -> list[tuple[str, str, Any]]:
    """Answers for unknown symbols and empty answers: ours, and the fake server's samples."""
    out = list(UNKNOWN_BODIES)
    for path in sorted(SAMPLES.glob("*.json")) if SAMPLES.is_dir() else []:
        endpoint = sample_endpoint(path.stem)
        if endpoint:
            out.append((f"sample-{path.stem}", endpoint, json.loads(path.read_text())))
    return out


@pytest.mark.parametrize(("name", "endpoint", "body"), unknown_bodies(), ids=lambda v: str(v)[:30])
def test_unknown_symbol_and_no_data_answers_give_no_accepted_rows(
    name: str, endpoint: str, body: Any
) -> None:
    for spec in catalog.for_endpoints([endpoint]):
        rows = extract(spec.name, line(endpoint, body, symbol="ZZZZQ"))
        assert accepted(rows) == [], name


def test_every_finnhub_endpoint_feeds_a_dataset() -> None:
    covered = {e for spec in catalog.specs() for e in spec.endpoints}
    assert set(ENDPOINTS) <= covered


@pytest.mark.parametrize(
    ("origin", "endpoint", "body", "params"),
    sample_bodies(),
    ids=lambda v: v if isinstance(v, str) else "-",
)
def test_documented_bodies_give_accepted_rows(
    origin: str, endpoint: str, body: Any, params: dict[str, Any]
) -> None:
    # Samples are recorded at an unknown date: fetch them "now" so dates are in range.
    at = FETCHED if origin == "docs" else datetime.now(UTC)
    for spec in catalog.for_endpoints([endpoint]):
        rows = extract(spec.name, {**line(endpoint, body, **params), "requested_at": at})
        good = accepted(rows)
        assert good, f"{spec.name}: no accepted rows from the {origin} body ({reasons(rows)})"
        for row in good:
            assert all(row[k] is not None for k in spec.primary_key), row


EMPTY_BODIES = [[], {}, None, {"s": "no_data"}, {"data": []}, {"earningsCalendar": None}]
MALFORMED_BODIES = ["Internal error", 42, {"error": "You don't have access"}, [1, "x", None]]


@pytest.mark.parametrize("dataset", [s.name for s in catalog.specs() if s.endpoints])
@pytest.mark.parametrize("body", EMPTY_BODIES + MALFORMED_BODIES, ids=repr)
def test_empty_and_malformed_bodies_never_fail_and_never_fake_a_row(
    dataset: str, body: Any
) -> None:
    spec = catalog.get(dataset)
    rows = extract(dataset, line(spec.endpoints[0], body, symbol="AAPL"))
    # Whatever comes out, nothing with a missing key or time is accepted.
    for row in accepted(rows):
        assert all(row[k] is not None for k in spec.primary_key), row
        assert row[spec.time_column] is not None


def test_failed_calls_give_no_rows() -> None:
    failed = {**line("company_news", [NEWS_ITEM], symbol="AAPL"), "status": 403}
    assert extract("company_news", failed) == []


# --- per endpoint --------------------------------------------------------------------------------
def test_company_news_is_typed_per_symbol() -> None:
    body = [NEWS_ITEM, {**NEWS_ITEM, "id": 2, "headline": "  "}, {**NEWS_ITEM, "id": None}]
    rows = extract("company_news", line("company_news", body, symbol="aapl"))
    good = accepted(rows)
    assert len(good) == 1
    row = good[0]
    assert (row["symbol"], row["id"], row["source"]) == ("AAPL", 7352719, "Reuters")
    assert row["published_at"] == datetime.fromtimestamp(1795100000, UTC)
    assert sorted(r for r in reasons(rows) if r) == ["missing article id", "missing headline"]


def test_news_dated_in_the_future_is_quarantined() -> None:
    future = {**NEWS_ITEM, "datetime": int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())}
    rows = extract("market_news", line("market_news", [future], category="general"))
    assert reasons(rows) == ["publication time in the future"]


def test_market_news_category_falls_back_to_the_request() -> None:
    item = {k: v for k, v in NEWS_ITEM.items() if k != "category"}
    [row] = extract("market_news", line("market_news", [item], category="Forex"))
    assert row["category"] == "forex"


def test_earnings_surprise_is_computed_when_missing() -> None:
    rows = extract("earnings", line("earnings", EARNINGS, symbol="AAPL"))
    by_period = {str(r["period"]): r for r in accepted(rows)}
    assert by_period["2026-06-30"]["surprise_pct"] == pytest.approx(-4.7812)
    assert by_period["2026-03-31"]["surprise"] == pytest.approx(0.4)
    assert by_period["2026-03-31"]["surprise_pct"] == pytest.approx(25.0)


def test_earnings_missing_estimate_is_kept_without_surprise() -> None:
    item = {"actual": 2.0, "estimate": None, "period": "2026-03-31", "symbol": "AAPL"}
    [row] = extract("earnings", line("earnings", [item]))
    assert row["_reject_reason"] is None
    assert (row["actual"], row["estimate"], row["surprise"]) == (2.0, None, None)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"actual": 1, "estimate": 1, "symbol": "AAPL"}, "missing period"),
        ({"actual": 1, "period": "1899-12-31", "symbol": "AAPL"}, "period before 1900"),
        ({"actual": 1, "period": "2026-12-31", "symbol": "AAPL"}, "period in the future"),
        ({"period": "2026-03-31", "symbol": "AAPL"}, "no actual and no estimate"),
        ({"actual": 1, "period": "2026-03-31", "quarter": 7}, "quarter outside 1-4"),
    ],
)
def test_bad_earnings_are_quarantined(item: dict[str, Any], reason: str) -> None:
    [row] = extract("earnings", line("earnings", [item], symbol="AAPL"))
    assert row["_reject_reason"] == reason


def test_earnings_calendar_reads_the_nested_list() -> None:
    [row] = extract("earnings_calendar", line("earnings_calendar", CALENDAR))
    assert (row["symbol"], str(row["report_date"]), row["hour"]) == ("AAPL", "2026-12-02", "amc")
    assert (row["year"], row["quarter"], row["eps_actual"]) == (2026, 4, None)
    assert row["revenue_estimate"] == 88496400810
    assert row["_reject_reason"] is None


def test_earnings_calendar_without_quarter_is_quarantined() -> None:
    item = {**CALENDAR["earningsCalendar"][0], "quarter": None}
    [row] = extract("earnings_calendar", line("earnings_calendar", {"earningsCalendar": [item]}))
    assert row["_reject_reason"] == "missing quarter"


def test_reported_financials_keep_the_report_and_key_figures() -> None:
    body = {"cik": "320193", "data": [FILING], "symbol": "AAPL"}
    [row] = extract("financials_reported", line("financials_reported", body, symbol="AAPL"))
    assert row["_reject_reason"] is None
    assert (row["access_number"], row["form"], row["year"]) == (
        "0000320193-26-000106",
        "10-K",
        2025,
    )
    assert (str(row["end_date"]), str(row["filed_date"])) == ("2025-09-27", "2025-10-31")
    assert row["revenue"] == 4.1e11  # found under its ASC 606 concept
    assert (row["net_income"], row["eps_diluted"]) == (1e11, 6.08)
    assert (row["total_assets"], row["total_liabilities"]) == (3.6e11, 3e11)
    assert row["stockholders_equity"] is None
    assert row["operating_cash_flow"] == 1.1e11
    assert len(json.loads(row["report"])["ic"]) == 3


def test_reported_financials_become_long_line_items() -> None:
    body = {"cik": "320193", "data": [FILING, {**FILING, "accessNumber": None}]}
    rows = extract("financials_line_items", line("financials_reported", body, symbol="AAPL"))
    good = accepted(rows)
    assert sorted((r["statement"], r["concept"]) for r in good) == [
        ("bs", "us-gaap_Assets"),
        ("bs", "us-gaap_Liabilities"),
        ("cf", "us-gaap_NetCashProvidedByUsedInOperatingActivities"),
        ("ic", "us-gaap_EarningsPerShareDiluted"),
        ("ic", "us-gaap_NetIncomeLoss"),
        ("ic", "us-gaap_RevenueFromContractWithCustomerExcludingAssessedTax"),
    ]
    assert {(r["symbol"], r["year"], r["form"]) for r in good} == {("AAPL", 2025, "10-K")}
    assert {r["_reject_reason"] for r in rows if r not in good} == {"missing access number"}


def test_basic_financials_pick_key_metrics_and_keep_the_object() -> None:
    [row] = extract("basic_financials", line("basic_financials", METRICS, symbol="AAPL"))
    assert row["_reject_reason"] is None
    assert (row["symbol"], str(row["as_of"])) == ("AAPL", "2026-11-20")
    assert (row["week52_high"], row["week52_low"]) == (310.43, 149.22)
    assert str(row["week52_low_date"]) == "2026-01-14"
    assert (row["beta"], row["pe_ttm"], row["eps_ttm"]) == (1.2989, 31.5, 6.3)
    assert row["debt_to_equity"] == 1.52  # a key with a slash in it
    assert row["avg_volume_10d"] == 32.50147
    assert json.loads(row["metric"])["52WeekHigh"] == 310.43


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"metric": {}, "metricType": "all", "symbol": "ZZZZ"}, "unknown symbol: no metrics"),
        ({"symbol": "ZZZZ"}, "unknown symbol: no metrics"),
        ({"metric": {"52WeekHigh": 1, "52WeekLow": 2}}, "52-week high below 52-week low"),
    ],
)
def test_bad_basic_financials_are_quarantined(body: dict[str, Any], reason: str) -> None:
    [row] = extract("basic_financials", line("basic_financials", body, symbol="ZZZZ"))
    assert row["_reject_reason"] == reason


def test_insider_transactions_get_a_stable_id() -> None:
    first = extract("insider_transactions", line("insider_transactions", INSIDERS))
    again = extract("insider_transactions", line("insider_transactions", INSIDERS))
    [row] = first
    assert row["_reject_reason"] is None
    assert (row["symbol"], row["name"], row["change"], row["share"]) == (
        "TSLA",
        "Doe Jane",
        -1250,
        57234,
    )
    assert row["transaction_id"] == again[0]["transaction_id"]
    with_id = {"data": [{**INSIDERS["data"][0], "id": "abc-1"}], "symbol": "TSLA"}
    [row] = extract("insider_transactions", line("insider_transactions", with_id))
    assert row["transaction_id"] == "abc-1"


def test_insider_filed_before_the_transaction_is_quarantined() -> None:
    item = {**INSIDERS["data"][0], "filingDate": "2026-11-01"}
    body = {"data": [item], "symbol": "TSLA"}
    [row] = extract("insider_transactions", line("insider_transactions", body))
    assert row["_reject_reason"] == "filed before the transaction"


def test_recommendations_count_analysts() -> None:
    [row] = extract("recommendations", line("recommendations", RECOMMENDATIONS))
    assert (row["strong_buy"], row["buy"], row["hold"], row["analysts"]) == (13, 24, 7, 44)
    assert str(row["period"]) == "2026-11-01"
    negative = [{**RECOMMENDATIONS[0], "sell": -1}]
    [row] = extract("recommendations", line("recommendations", negative))
    assert row["_reject_reason"] == "negative strong buy or buy or hold or sell or strong sell"


def test_ipo_calendar_parses_price_ranges_and_keys_by_name_without_symbol() -> None:
    rows = {r["listing"]: r for r in extract("ipo_calendar", line("ipo_calendar", IPOS))}
    assert rows["NWRO"]["symbol"] == "NWRO"
    assert (rows["NWRO"]["price_low"], rows["NWRO"]["price_high"]) == (14.0, 16.0)
    filed = rows["Bluefin Foods Inc"]
    assert (filed["symbol"], filed["price_low"], filed["_reject_reason"]) == (None, None, None)
    inverted = {"ipoCalendar": [{**IPOS["ipoCalendar"][0], "price": "16.00-14.00"}]}
    [row] = extract("ipo_calendar", line("ipo_calendar", inverted))
    assert row["_reject_reason"] == "price range low above high"


def test_candles_zip_the_parallel_arrays() -> None:
    rows = extract("candles", line("candles", CANDLES, symbol="AAPL", resolution="D"))
    assert [r["_reject_reason"] for r in rows] == [None, None]
    by_time = sorted(rows, key=lambda r: r["ts"])
    assert (
        by_time[0]["ts"]
        == datetime(2026, 11, 19, tzinfo=UTC)
        == datetime.fromtimestamp(1795046400, UTC)
    )
    assert [(r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in by_time] == [
        (221.03, 222.49, 217.19, 217.68, 33463820),
        (218.55, 221.5, 217.1402, 221.03, 24018876),
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"h": [200.0]}, "high below low"),
        ({"v": [-5]}, "negative volume"),
        ({"o": [0.0]}, "non-positive price"),
        ({"c": [230.0]}, "open or close outside the high-low range"),
        ({"c": [None]}, "missing close price"),
        ({"t": [1800000000]}, "candle time in the future"),
    ],
)
def test_bad_candles_are_quarantined(change: dict[str, list[Any]], reason: str) -> None:
    body = {"c": [217.68], "h": [222.49], "l": [217.19], "o": [221.03], "t": [1795046400]}
    body.update(v=[1000], s="ok")
    body.update(change)
    [row] = extract("candles", line("candles", body, symbol="AAPL"))
    assert row["_reject_reason"] == reason


def test_ragged_candle_arrays_quarantine_the_incomplete_row() -> None:
    body = {
        "c": [1.0],
        "h": [1.0, 2.0],
        "l": [1.0, 1.0],
        "o": [1.0, 1.5],
        "t": [1795046400, 1795132800],
    }
    rows = extract("candles", line("candles", body, symbol="AAPL"))
    assert sorted(reasons(rows), key=str) == [None, "missing close price"]


def test_social_sentiment_labels_each_source() -> None:
    rows = extract("social_sentiment", line("social_sentiment", SENTIMENT, symbol="AAPL"))
    by_source = {r["source"]: r for r in accepted(rows)}
    assert set(by_source) == {"reddit", "twitter"}
    assert by_source["twitter"]["mention"] == 300
    assert by_source["twitter"]["negative_score"] == 0.6  # either sign: a magnitude
    assert by_source["reddit"]["negative_score"] == 0.5
    assert by_source["reddit"]["at_time"] == datetime(2026, 11, 19, tzinfo=UTC)
    combined = {"data": [{**SENTIMENT["reddit"][0], "score": 1.5}], "symbol": "AAPL"}
    [row] = extract("social_sentiment", line("social_sentiment", combined))
    assert (row["source"], row["_reject_reason"]) == ("all", "score outside -1..1")


def test_dividends_are_typed_and_checked() -> None:
    [row] = extract("dividends", line("dividends", DIVIDENDS, symbol="AAPL"))
    assert (str(row["ex_date"]), row["amount"], str(row["pay_date"])) == (
        "2026-11-07",
        0.26,
        "2026-11-14",
    )
    early = [{**DIVIDENDS[0], "payDate": "2026-11-01"}]
    [row] = extract("dividends", line("dividends", early, symbol="AAPL"))
    assert row["_reject_reason"] == "paid before the ex-dividend date"
    zero = [{**DIVIDENDS[0], "amount": 0}]
    [row] = extract("dividends", line("dividends", zero, symbol="AAPL"))
    assert row["_reject_reason"] == "non-positive amount"


# --- the catalog's multi-level sources, by exact SQL ----------------------------------------------
def test_zipped_source_sql_is_exact() -> None:
    assert Zipped(("t", "c")).source_sql("raw") == (
        "SELECT r.*, json_object('t', u.\"t\", 'c', u.\"c\") AS item FROM raw AS r, "
        "LATERAL (SELECT unnest(json_extract(r.body, '$.t[*]')) AS \"t\", "
        "unnest(json_extract(r.body, '$.c[*]')) AS \"c\") AS u"
    )


def test_arrays_source_sql_is_exact() -> None:
    assert Arrays((("a", "$.a[*]"), ("b", "$.b[*]"))).source_sql("raw") == (
        "SELECT r.*, u.item_source, u.item FROM raw AS r, LATERAL ("
        "SELECT 'a' AS item_source, unnest(json_extract(r.body, '$.a[*]')) AS item UNION ALL "
        "SELECT 'b' AS item_source, unnest(json_extract(r.body, '$.b[*]')) AS item) AS u"
    )
    nested = Arrays((("x", "$.x[*]"),), within="$.data[*]")
    assert nested.source_sql("raw") == (
        "SELECT r.*, p.parent, u.item_source, u.item FROM raw AS r, "
        "unnest(json_extract(r.body, '$.data[*]')) AS p(parent), LATERAL ("
        "SELECT 'x' AS item_source, unnest(json_extract(p.parent, '$.x[*]')) AS item) AS u"
    )


def test_extract_sql_with_arrays_is_exact() -> None:
    spec = DatasetSpec(
        name="pairs",
        description="",
        endpoints=("pair",),
        columns=(Column("side", "VARCHAR", "item_source"), Column("n", "INTEGER", "item->>'n'")),
        primary_key=("side", "n"),
        time_column="n",
        items=Arrays((("l", "$.l[*]"),)),
    )
    assert spec.extract_sql("raw") == (
        "SELECT *, CAST(NULL AS VARCHAR) AS _reject_reason\n"
        "FROM (\n"
        "  SELECT\n"
        '    CAST(item_source AS VARCHAR) AS "side",\n'
        '    CAST(_item_fields."n" AS INTEGER) AS "n",\n'
        "    requested_at AS _fetched_at,\n"
        "    run AS _ingest_run\n"
        '  FROM (SELECT *, json_transform(item, \'{"n":"VARCHAR"}\') AS _item_fields '
        "FROM (SELECT r.*, u.item_source, u.item FROM raw AS r, LATERAL (SELECT 'l' AS "
        "item_source, unnest(json_extract(r.body, '$.l[*]')) AS item) AS u) AS lines) AS src\n"
        "  WHERE endpoint IN ('pair') AND status = 200 AND error IS NULL\n"
        ") AS typed"
    )


def test_derived_datasets_have_no_extraction() -> None:
    spec = catalog.get("daily_bars")
    assert spec.endpoints == () and spec.derived_from == ("candles", "quotes")
    with pytest.raises(ValueError, match="derived"):
        spec.extract_sql("raw")
    assert "daily_bars" not in {s.name for s in catalog.for_endpoints(["quote", "candles"])}


# Key columns that cannot be NULL by construction (the fetch day, an array label, a default).
NEVER_NULL = {
    ("company_profiles", "as_of"),
    ("basic_financials", "as_of"),
    ("candles", "resolution"),
    ("social_sentiment", "source"),
    ("financials_line_items", "statement"),
    ("insider_transactions", "transaction_id"),
}


def test_every_key_part_has_a_missing_rule() -> None:
    """A NULL key part can never match a committed row, so it would duplicate every run."""
    for spec in catalog.specs():
        if not spec.endpoints:
            continue
        conditions = " ".join(r.condition for r in spec.rules)
        for key in {*spec.primary_key, spec.time_column}:
            if (spec.name, key) not in NEVER_NULL:
                assert f"{key} IS NULL" in conditions, f"{spec.name}.{key}"


def test_dates_are_dates() -> None:
    [row] = extract(
        "dividends", line("dividends", [{**DIVIDENDS[0], "date": "2026-11-07 00:00:00"}])
    )
    assert row["ex_date"] == date(2026, 11, 7)
