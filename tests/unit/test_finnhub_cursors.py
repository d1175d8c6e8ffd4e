"""State after a committed run: complete units count as fetched, cursors move, 403s kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bucketpipe.ingest.finnhub.cursors import Result, advance
from bucketpipe.ingest.finnhub.endpoints import BY_DATASET
from bucketpipe.ingest.finnhub.plan import Call
from bucketpipe.ingest.finnhub.state import Denial, FinnhubState

NOW = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)


def denial(dataset: str, at: datetime) -> Denial:
    return Denial(dataset=dataset, path="/stock/candle", denied_at=at, message="HTTP 403")


def call(dataset: str, unit: str, **params: object) -> Call:
    window = None
    if "from" in params and dataset == "company_news":
        window = (date.fromisoformat(str(params["from"])), date.fromisoformat(str(params["to"])))
    return Call(BY_DATASET[dataset], dict(params), unit, window)


def test_advance_records_complete_units_only() -> None:
    results = [
        Result(call("quotes", "AAPL", symbol="AAPL"), True, {"c": 1}),
        Result(call("quotes", "MSFT", symbol="MSFT"), False),
        Result(call("earnings", "AAPL", symbol="AAPL"), True, []),
    ]
    state = advance(FinnhubState(), results, NOW)
    assert state.symbols["AAPL"].fetched == {"quotes": NOW, "earnings": NOW}
    assert state.symbols["MSFT"].fetched == {}


def test_news_cursor_moves_through_the_windows_that_arrived_in_order() -> None:
    windows = [
        ("2024-04-01", "2024-04-07"),
        ("2024-04-08", "2024-04-14"),
        ("2024-04-15", "2024-04-21"),
    ]
    calls = [
        call("company_news", "AAPL", symbol="AAPL", **{"from": a, "to": b}) for a, b in windows
    ]
    middle_failed = [
        Result(calls[0], True, []),
        Result(calls[1], False),
        Result(calls[2], True, []),
    ]
    state = advance(FinnhubState(), middle_failed, NOW)
    assert state.symbols["AAPL"].news_through == date(2024, 4, 7)
    assert "company_news" not in state.symbols["AAPL"].fetched  # due again next run
    all_ok = [Result(c, True, []) for c in calls]
    state = advance(FinnhubState(), all_ok[::-1], NOW)
    assert state.symbols["AAPL"].news_through == date(2024, 4, 21)
    assert state.symbols["AAPL"].fetched["company_news"] == NOW


def test_market_news_cursor_keeps_the_newest_id() -> None:
    general = call("market_news", "market_news:general", category="general", minId=0)
    forex = call("market_news", "market_news:forex", category="forex", minId=0)
    before = FinnhubState()
    before.market.news_min_id = {"forex": 500}
    results = [
        Result(general, True, [{"id": 120}, {"id": 118}, {"id": "x"}, "junk"]),
        Result(forex, True, []),
    ]
    state = advance(before, results, NOW)
    assert state.market.news_min_id == {"general": 120, "forex": 500}
    assert state.market.fetched == {"market_news:general": NOW, "market_news:forex": NOW}
    assert before.market.news_min_id == {"forex": 500}  # the input is not modified


def test_denials_are_recorded_and_lifted_when_the_plan_answers_again() -> None:
    old = FinnhubState(denials={"candles": denial("candles", NOW - timedelta(days=2))})
    new_denial = denial("dividends", NOW)
    results = [Result(call("candles", "AAPL", symbol="AAPL"), True, {"s": "ok"})]
    state = advance(old, results, NOW, denied={"dividends": new_denial})
    assert state.denials == {"dividends": new_denial}
