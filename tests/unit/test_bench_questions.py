"""Both designs' answers are compared before any figure counts."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from benchmarks.questions import (
    AnswerMismatch,
    compare_monthly,
    compare_overview,
    compare_stock,
    questions,
)


def overview(price: float = 10.0, trend: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT"],
            "ts": pd.to_datetime(["2026-11-20 21:00", "2026-11-20 21:00"], utc=True),
            "price": [price, 20.0],
            "change": [0.1, -0.2],
            "change_pct": [1.0, -1.0],
            "open": [9.9, 20.2],
            "high": [10.1, 20.3],
            "low": [9.8, 19.9],
            "prev_close": [9.9, 20.2],
            "sentiment": ["bullish", "bearish"],
            "trend": [trend or [9.0, 10.0], [21.0, 20.0]],
            "name": ["Apple Inc", "Microsoft Corp"],
        }
    )


def test_equal_overviews_pass() -> None:
    compare_overview(overview(), overview())


def test_a_different_price_is_a_mismatch() -> None:
    with pytest.raises(AnswerMismatch, match="overview price"):
        compare_overview(overview(), overview(price=10.5))


def test_a_different_sparkline_is_a_mismatch() -> None:
    with pytest.raises(AnswerMismatch, match="sparkline of AAPL"):
        compare_overview(overview(), overview(trend=[9.0, 10.0, 11.0]))


def test_timestamps_compare_across_representations() -> None:
    other = overview()
    other["ts"] = other["ts"].dt.tz_convert("America/New_York")
    compare_overview(overview(), other)


def bars(close: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": [date(2026, 11, 19), date(2026, 11, 20)],
            "open": [1.0, 2.0],
            "high": [1.5, 2.5],
            "low": [0.5, 1.5],
            "close": [1.2, close],
            "sma_5": [float("nan"), float("nan")],
        }
    )


def test_stock_days_may_be_dates_or_timestamps() -> None:
    other = bars()
    other["day"] = pd.to_datetime(other["day"])
    compare_stock(bars(), other)  # NaN equals NaN: indicators start late


def test_stock_close_mismatch() -> None:
    with pytest.raises(AnswerMismatch, match="bars close"):
        compare_stock(bars(), bars(close=2.1))


def test_monthly_tolerates_summation_order_only() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL"],
            "month": [pd.Timestamp("2026-11-01")],
            "snapshots": [27],
            "avg_price": [190.123456789],
            "low": [180.0],
            "high": [200.0],
        }
    )
    close = frame.assign(avg_price=190.123456789 * (1 + 1e-12))
    compare_monthly(frame, close)
    with pytest.raises(AnswerMismatch, match="avg_price"):
        compare_monthly(frame, frame.assign(avg_price=190.2))


def test_questions_cover_the_dashboard() -> None:
    names = [q.name for q in questions("AAPL", date(2026, 11, 20))]
    assert names == ["overview", "stock_year", "sql_aggregate", "quality_trend"]
    without = [q.name for q in questions("AAPL", date(2026, 11, 20), with_quality=False)]
    assert without == ["overview", "stock_year", "sql_aggregate"]
