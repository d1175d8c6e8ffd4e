"""The dashboard questions both designs answer, and the check that their answers agree.

The lake side calls the dashboard's own query functions (`bucketpipe.serve.queries`) on a
`LakeSession`, as a page load does; the volume side calls `CsvDashboard`. A benchmark whose two
sides answered different questions would compare nothing, so every measured pair of answers
goes through `compare` first and a mismatch stops the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.baseline import CsvDashboard
from bucketpipe.context import Context
from bucketpipe.serve.queries import market, quality, stock
from bucketpipe.serve.queries.base import datasets_of
from bucketpipe.serve.queries.session import LakeSession

# The SQL explorer's aggregate: a full scan of a year of quotes, grouped by symbol and month.
MONTHLY_SQL = """SELECT symbol, date_trunc('month', timezone('UTC', ts)) AS month,
       count(*) AS snapshots, avg(price) AS avg_price, min(low) AS low, max(high) AS high
FROM quotes
GROUP BY ALL
ORDER BY symbol, month"""
QUALITY_DATASET = "quotes"
QUALITY_LIMIT = 50  # reports the quality page shows
BAR_FIELDS = ("day", "open", "high", "low", "close")
INDICATOR_FIELDS = (
    *("sma_5", "sma_20", "sma_50", "ema_12", "ema_26", "rsi_14", "macd"),
    *("macd_signal", "macd_hist", "bb_middle", "bb_upper", "bb_lower"),
)


class AnswerMismatch(AssertionError):
    """The two designs answered a question differently: the comparison would be meaningless."""


@dataclass(frozen=True)
class Question:
    """One dashboard question: how each design answers it, and how answers are compared."""

    name: str
    title: str
    lake: Callable[[LakeSession], pd.DataFrame]
    volume: Callable[[CsvDashboard], pd.DataFrame]
    compare: Callable[[pd.DataFrame, pd.DataFrame], None]


# --- lake answers ------------------------------------------------------------------------------
# Each answer opens the views of the datasets the page's query reads, as the page does.
def lake_overview(session: LakeSession) -> pd.DataFrame:
    return session.run(market.reads(session.ready), market.latest_quotes)


def lake_stock_year(session: LakeSession, symbol: str, end: date) -> pd.DataFrame:
    """What the stock page loads for a year: the bars, then the indicators, joined by day."""
    start = end - timedelta(days=364)
    bars = session.run(datasets_of(stock.bars), stock.bars, symbol, start, end)
    ind = session.run(datasets_of(stock.indicators), stock.indicators, symbol, start, end)
    wanted = ["day", *(c for c in INDICATOR_FIELDS if c in ind.columns)]
    if ind.empty or "day" not in ind.columns:
        return bars
    return bars.merge(ind[wanted], on="day", how="left")


def lake_monthly(session: LakeSession) -> pd.DataFrame:
    # The query is timed, not the start of the SQL workers: on a loaded machine a worker can
    # take longer to start than a query waits for one (it is then told to try again).
    sandbox = session.sandbox()
    sandbox.wait_ready()
    return sandbox.run(MONTHLY_SQL).frame


def lake_quality(session: LakeSession, limit: int) -> pd.DataFrame:
    """The quality page's trend: the newest `limit` reports of quotes."""
    ctx = Context(settings=session.settings, store=session.store, signals=session.signals)
    return quality.history(ctx, [QUALITY_DATASET], limit)


# --- comparisons -------------------------------------------------------------------------------
def _same_numbers(name: str, left: Any, right: Any) -> None:
    a = pd.to_numeric(pd.Series(list(left)), errors="coerce").to_numpy(dtype="float64")
    b = pd.to_numeric(pd.Series(list(right)), errors="coerce").to_numpy(dtype="float64")
    if a.shape != b.shape:
        raise AnswerMismatch(f"{name}: {len(a)} values against {len(b)}")
    close = np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    if not close.all():
        where = int(np.flatnonzero(~close)[0])
        raise AnswerMismatch(
            f"{name}: values differ, first at row {where}: {a[where]} / {b[where]}"
        )


def _same_values(name: str, left: Iterable[Any], right: Iterable[Any]) -> None:
    a = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in left]
    b = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in right]
    if a != b:
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), -1)
        raise AnswerMismatch(f"{name}: differs (lengths {len(a)}/{len(b)}, first at row {first})")


def _times(series: pd.Series) -> list[str]:
    return [str(v) for v in pd.to_datetime(series, utc=True)]


def compare_overview(lake: pd.DataFrame, volume: pd.DataFrame) -> None:
    _same_values("overview symbols", lake["symbol"], volume["symbol"])
    _same_values("overview quote times", _times(lake["ts"]), _times(volume["ts"]))
    for column in ("price", "change", "change_pct", "open", "high", "low", "prev_close"):
        _same_numbers(f"overview {column}", lake[column], volume[column])
    _same_values("overview sentiment", lake["sentiment"], volume["sentiment"])
    for symbol, a, b in zip(lake["symbol"], lake["trend"], volume["trend"], strict=True):
        _same_numbers(f"overview sparkline of {symbol}", list(a), list(b))
    if "name" in lake.columns and "name" in volume.columns:
        _same_values("overview names", lake["name"], volume["name"])


def _days(series: pd.Series) -> list[str]:
    return [str(pd.Timestamp(v).date()) for v in series]


def compare_stock(lake: pd.DataFrame, volume: pd.DataFrame) -> None:
    _same_values("bars days", _days(lake["day"]), _days(volume["day"]))
    for column in (*BAR_FIELDS[1:], *INDICATOR_FIELDS):
        if column in lake.columns:
            _same_numbers(f"bars {column}", lake[column], volume[column])


def compare_monthly(lake: pd.DataFrame, volume: pd.DataFrame) -> None:
    _same_values("monthly symbols", lake["symbol"], volume["symbol"])
    _same_values("monthly months", _days(lake["month"]), _days(volume["month"]))
    for column in ("snapshots", "avg_price", "low", "high"):
        _same_numbers(f"monthly {column}", lake[column], volume[column])


def compare_quality(lake: pd.DataFrame, volume: pd.DataFrame) -> None:
    _same_values("quality run times", _times(lake["created_at"]), _times(volume["created_at"]))
    _same_numbers("quality scores", lake["overall_score"], volume["overall_score"])


def questions(symbol: str, end: date, *, with_quality: bool = True) -> list[Question]:
    """The four questions, for the stock page's `symbol` and a year ending on `end`."""
    start = end - timedelta(days=364)
    trend = Question(
        "quality_trend",
        f"Quality trend: the newest {QUALITY_LIMIT} reports of {QUALITY_DATASET}",
        lambda s: lake_quality(s, QUALITY_LIMIT),
        lambda d: d.quality_trend(QUALITY_LIMIT),
        compare_quality,
    )
    return [
        Question(
            "overview",
            "Latest quote per symbol (market overview)",
            lake_overview,
            lambda d: d.latest_quotes(),
            compare_overview,
        ),
        Question(
            "stock_year",
            f"One symbol's daily bars + indicators over a year ({symbol})",
            lambda s: lake_stock_year(s, symbol, end),
            lambda d: d.bars_with_indicators(symbol, start, end),
            compare_stock,
        ),
        Question(
            "sql_aggregate",
            "SQL aggregate: monthly mean price and range per symbol",
            lake_monthly,
            lambda d: d.monthly_summary(),
            compare_monthly,
        ),
        *([trend] if with_quality else []),
    ]
