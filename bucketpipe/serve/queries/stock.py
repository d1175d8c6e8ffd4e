"""One stock: daily bars and indicators, intraday quotes, profile, analysts, earnings, insiders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from bucketpipe.catalog.datasets.bars import market_days
from bucketpipe.catalog.indicators import INDICATOR_COLUMNS as DERIVED_INDICATORS
from bucketpipe.catalog.overview import OVERVIEW
from bucketpipe.lake.duck import quote_ident
from bucketpipe.lake.views import recent_view
from bucketpipe.serve.queries.base import column_names, frame, has_view, select_list, uses, views

BAR_COLUMNS = ("symbol", "day", "open", "high", "low", "close", "volume", "source")
# What the stock page charts: every derived indicator but the return and volatility figures.
INDICATOR_COLUMNS = tuple(
    c for c in DERIVED_INDICATORS if c not in ("daily_return", "volatility_20")
)
# Daily bars from quote snapshots when `daily_bars` is not committed: the day's last snapshot
# carries the day's open, high and low so far, and its price is the close.
BARS_FROM_QUOTES = """
    SELECT symbol, CAST(ts AS DATE) AS day, arg_max(open, ts) AS open, arg_max(high, ts) AS high,
           arg_max(low, ts) AS low, arg_max(price, ts) AS close,
           CAST(NULL AS BIGINT) AS volume, 'quotes' AS source
    FROM quotes GROUP BY ALL
"""


@uses(OVERVIEW, "quotes", "daily_bars", "company_profiles")
def symbols(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every symbol with a quote or bars, or a profile in the newest weeks, sorted.

    The market overview holds every quoted symbol in one small file, so the list reads that
    and the newest weeks of profiles, not every row group of a year of bars; without an
    overview, the symbols of the daily bars (else of the quotes). A symbol no longer fetched
    for weeks may be left out of the list; its page still opens by name.
    """
    if has_view(con, OVERVIEW) and "symbol" in column_names(con, OVERVIEW):
        sources = [OVERVIEW]
    else:
        sources = ["daily_bars" if has_view(con, "daily_bars") else "quotes"]
    sources.append(_newest(con, "company_profiles")[0])
    found = [v for v in sources if has_view(con, v) and "symbol" in column_names(con, v)]
    return _distinct_symbols(con, [quote_ident(v) for v in found])


@uses("daily_bars", "company_profiles")
def newest_symbols(
    con: duckdb.DuckDBPyConnection, bars: str, profiles: str | None = None
) -> list[str]:
    """The symbols of `bars` and `profiles` (SQL over the newest files of each, which the page
    reads anyway), sorted. A quoted symbol has a bar for every day it was quoted, so only one
    no longer fetched is left out (its page still opens by name)."""
    return _distinct_symbols(con, [f"({r})" for r in (bars, profiles) if r is not None])


def _distinct_symbols(con: duckdb.DuckDBPyConnection, relations: Sequence[str]) -> list[str]:
    if not relations:
        return []
    union = " UNION ".join(f"SELECT DISTINCT symbol FROM {r}" for r in relations)
    rows = con.execute(
        f"SELECT symbol FROM ({union}) WHERE symbol IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _newest(con: duckdb.DuckDBPyConnection, dataset: str) -> list[str]:
    """The dataset's recent-window view (the files of its newest weeks only: profiles are
    fetched daily, so a symbol's newest is there), then the whole dataset's."""
    window = recent_view(dataset)
    return [window, dataset] if has_view(con, window) else [dataset]


def _bars_source(con: duckdb.DuckDBPyConnection) -> tuple[str | None, list[str]]:
    """The bars' relation (`daily_bars`, else from quotes, else None) and `daily_bars`' columns."""
    available = views(con)
    have = column_names(con, "daily_bars") if "daily_bars" in available else []
    if {"day", "close"} <= set(have):
        return "daily_bars", have
    if "quotes" in available:
        return f"({BARS_FROM_QUOTES})", []
    return None, []


@uses("quotes", "daily_bars")
def day_bounds(
    con: duckdb.DuckDBPyConnection,
    symbol: str,
    newest: str | None = None,
    first: date | None = None,
) -> tuple[date, date] | None:
    """First and last day with a bar for the symbol.

    With `newest` (SQL over the newest files of the daily bars) and `first` (the dataset's
    first day), the last day is read from those files alone and the first is `first`: the
    picker may offer days before a young symbol's first bar (they show none) rather than
    read every year of bars. A symbol absent from the newest files is looked up in all.
    """
    source, _ = _bars_source(con)
    if newest is not None and first is not None and source == "daily_bars":
        row = con.execute(f"SELECT max(day) FROM ({newest}) WHERE symbol = ?", [symbol]).fetchone()
        if row is not None and row[0] is not None:
            return min(first, row[0]), row[0]
    if source is None:
        return None
    row = con.execute(
        f"SELECT min(day), max(day) FROM {source} WHERE symbol = ?", [symbol]
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


@uses("quotes", "daily_bars")
def bars(
    con: duckdb.DuckDBPyConnection,
    symbol: str,
    start: date,
    end: date,
    files: str | None = None,
) -> pd.DataFrame:
    """Daily OHLC(V) bars of one symbol in [start, end], oldest first.

    `files` is SQL over just the daily bars' files of the range (`LakeSession.pruned`); the
    rows are the same as the view's.
    """
    source, have = _bars_source(con)
    if source is None:
        return pd.DataFrame(columns=list(BAR_COLUMNS))
    cols = [c for c in BAR_COLUMNS if c in have] if source == "daily_bars" else list(BAR_COLUMNS)
    relation = f"({files})" if files is not None and source == "daily_bars" else source
    return frame(
        con,
        f"SELECT {select_list(cols)} FROM {relation} WHERE symbol = ? AND day BETWEEN ? AND ? "
        "ORDER BY day",
        [symbol, start, end],
    )


@uses("daily_indicators")
def indicators(
    con: duckdb.DuckDBPyConnection,
    symbol: str,
    start: date,
    end: date,
    files: str | None = None,
) -> pd.DataFrame:
    """The committed `daily_indicators` rows of one symbol in [start, end], oldest first
    (`files`: SQL over just the files of the range)."""
    have = column_names(con, "daily_indicators")
    if "day" not in have:
        return pd.DataFrame()
    cols = ["day", *(c for c in ("open", "high", "low", "close") if c in have)]
    cols += [c for c in (*INDICATOR_COLUMNS, "volatility_20") if c in have]
    relation = f"({files})" if files is not None else "daily_indicators"
    return frame(
        con,
        f"SELECT {select_list(cols)} FROM {relation} "
        "WHERE symbol = ? AND day BETWEEN ? AND ? ORDER BY day",
        [symbol, start, end],
    )


@uses("quotes")
def intraday(
    con: duckdb.DuckDBPyConnection, symbol: str, start: date, end: date, source: str = "quotes"
) -> pd.DataFrame:
    """Every quote snapshot of one symbol in the market days `start` to `end` (whole).

    `source` is the relation to read: the quotes view, or the SQL of just the files of the
    range (`LakeSession.pruned`), so a week of a year of daily files opens a week of them.
    """
    have = column_names(con, "quotes")
    if not {"ts", "price"} <= set(have):
        return pd.DataFrame(columns=["ts", "price"])
    cols = [c for c in ("ts", "price", "change_pct") if c in have]
    relation = "quotes" if source == "quotes" else f"({source})"
    return frame(
        con,
        f"SELECT {select_list(cols)} FROM {relation} WHERE symbol = ? AND ts >= ? AND ts < ? "
        "ORDER BY ts",
        [symbol, *market_days(start, end)],
    )


@uses("company_profiles")
def profile(
    con: duckdb.DuckDBPyConnection, symbol: str, newest: str | None = None
) -> dict[str, Any]:
    """The newest company profile of the symbol ({} when there is none): from `newest` (SQL
    over the dataset's newest files) when the symbol is there, else its newest weeks, else
    all of it."""
    have = column_names(con, "company_profiles")
    if "symbol" not in have:
        return {}
    order = "as_of DESC" if "as_of" in have else "1"
    record = _newest_row(con, "company_profiles", symbol, order, [f"({newest})"] * bool(newest))
    return {k: v for k, v in record.items() if not k.startswith("_") and k != "dt"}


def _newest_row(
    con: duckdb.DuckDBPyConnection, dataset: str, symbol: str, order: str, first: list[str]
) -> dict[str, Any]:
    """The symbol's first row by `order` from the first of `first`, then the dataset's newest
    weeks, then all of it, that has one ({} when none has): a year of monthly files is not
    opened for a row that daily fetches keep in the newest."""
    for relation in first + [quote_ident(v) for v in _newest(con, dataset)]:
        rows = frame(
            con, f"SELECT * FROM {relation} WHERE symbol = ? ORDER BY {order} LIMIT 1", [symbol]
        )
        if not rows.empty:
            return {str(k): v for k, v in rows.iloc[0].to_dict().items()}
    return {}


def _symbol_rows(
    con: duckdb.DuckDBPyConnection,
    view: str,
    symbol: str,
    wanted: Sequence[str],
    order: str,
    *,
    limit: int | None = None,
    start: date | None = None,
) -> pd.DataFrame:
    """The wanted columns that exist, for one symbol, newest first by `order`."""
    have = column_names(con, view)
    cols = [c for c in wanted if c in have]
    if "symbol" not in have or order not in have:
        return pd.DataFrame(columns=list(wanted))
    where = "symbol = ?"
    params: list[Any] = [symbol]
    if start is not None:
        where += f" AND {quote_ident(order)} >= ?"
        params.append(start)
    sql = f"SELECT {select_list(cols)} FROM {quote_ident(view)} WHERE {where} "
    sql += f"ORDER BY {quote_ident(order)} DESC NULLS LAST"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return frame(con, sql, params)


@uses("recommendations")
def recommendations(con: duckdb.DuckDBPyConnection, symbol: str, months: int = 12) -> pd.DataFrame:
    wanted = ("period", "strong_buy", "buy", "hold", "sell", "strong_sell", "analysts")
    rows = _symbol_rows(con, "recommendations", symbol, wanted, "period", limit=months)
    return rows.sort_values("period").reset_index(drop=True) if not rows.empty else rows


@uses("earnings")
def earnings(con: duckdb.DuckDBPyConnection, symbol: str, quarters: int = 12) -> pd.DataFrame:
    wanted = ("period", "year", "quarter", "actual", "estimate", "surprise", "surprise_pct")
    rows = _symbol_rows(con, "earnings", symbol, wanted, "period", limit=quarters)
    return rows.sort_values("period").reset_index(drop=True) if not rows.empty else rows


@uses("insider_transactions")
def insiders(con: duckdb.DuckDBPyConnection, symbol: str, limit: int = 100) -> pd.DataFrame:
    wanted = (
        "transaction_date",
        "name",
        "transaction_code",
        "change",
        "share",
        "transaction_price",
        "filing_date",
        "is_derivative",
        "currency",
    )
    return _symbol_rows(
        con, "insider_transactions", symbol, wanted, "transaction_date", limit=limit
    )


@uses("dividends")
def dividends(con: duckdb.DuckDBPyConnection, symbol: str) -> pd.DataFrame:
    wanted = ("ex_date", "amount", "adjusted_amount", "pay_date", "record_date", "currency")
    return _symbol_rows(con, "dividends", symbol, wanted, "ex_date")


@uses("social_sentiment")
def social(
    con: duckdb.DuckDBPyConnection, symbol: str, start: date, end: date | None = None
) -> pd.DataFrame:
    wanted = ("at_time", "source", "mention", "positive_mention", "negative_mention", "score")
    rows = _symbol_rows(con, "social_sentiment", symbol, wanted, "at_time", start=start)
    if end is not None and not rows.empty:  # the range's last day, not the day after it
        rows = rows[pd.to_datetime(rows["at_time"]).dt.date <= end]
    return rows.sort_values("at_time").reset_index(drop=True) if not rows.empty else rows


@uses("company_news")
def news(con: duckdb.DuckDBPyConnection, symbol: str, limit: int = 30) -> pd.DataFrame:
    wanted = ("published_at", "headline", "source", "summary", "url", "category")
    return _symbol_rows(con, "company_news", symbol, wanted, "published_at", limit=limit)


def latest_values(table: pd.DataFrame, names: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """Column -> (newest non-null value, change from the value before it) for the tiles."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in names:
        if name not in table:
            continue
        series = pd.to_numeric(table[name], errors="coerce").dropna()
        if series.empty:
            continue
        last = float(series.iloc[-1])
        delta = last - float(series.iloc[-2]) if len(series) > 1 else None
        out[name] = (last, delta)
    return out


def rsi_zone(value: float | None) -> str:
    """'overbought' (>= 70), 'oversold' (<= 30) or 'neutral'."""
    if value is None:
        return "no data"
    if value >= 70:
        return "overbought"
    if value <= 30:
        return "oversold"
    return "neutral"


NOT_METRICS = ("dt", "metric", "symbol")


@uses("basic_financials")
def key_metrics(con: duckdb.DuckDBPyConnection, symbol: str) -> dict[str, Any]:
    """The newest `basic_financials` row of the symbol (52-week range, P/E, margins...)."""
    have = column_names(con, "basic_financials")
    if "symbol" not in have or "as_of" not in have:
        return {}
    row = _newest_row(con, "basic_financials", symbol, "as_of DESC", [])
    return {k: v for k, v in row.items() if not k.startswith("_") and k not in NOT_METRICS}


@uses("financials_reported")
def financials(con: duckdb.DuckDBPyConnection, symbol: str, limit: int = 12) -> pd.DataFrame:
    """Key figures of the newest filings (revenue, net income, EPS, balance sheet); an annual
    filing (10-K, stored as quarter 0) has no quarter."""
    wanted: tuple[str, ...] = ("filed_date", "year", "quarter", "form", "revenue", "net_income")
    wanted += ("eps_diluted", "total_assets", "total_liabilities", "stockholders_equity")
    wanted += ("operating_cash_flow",)
    rows = _symbol_rows(con, "financials_reported", symbol, wanted, "filed_date", limit=limit)
    if "quarter" in rows:
        quarter = pd.to_numeric(rows["quarter"], errors="coerce").astype("Int64")
        rows["quarter"] = quarter.where(quarter != 0)
    return rows


@dataclass(frozen=True)
class Windowed:
    """A figure computed over a window of days, which the page names beside it."""

    value: float | None
    days: int  # daily returns the figure is computed from
    until: Any  # the last day of the window


def volatility(bars: pd.DataFrame, ind: pd.DataFrame, window: int = 20) -> Windowed:
    """Standard deviation of the `window` daily returns up to the range's last day, in %.

    The committed `volatility_20` indicator is computed over the whole history, so it does
    not depend on where the chosen range starts; without indicators the figure comes from
    the bars in the range, and `days` says how many returns that was.
    """
    if "volatility_20" in ind and "day" in ind:
        known = ind.dropna(subset=["volatility_20"])
        if not known.empty:
            last = known.iloc[-1]
            return Windowed(float(last["volatility_20"]) * 100, window, last["day"])
    if "close" not in bars or "day" not in bars:
        return Windowed(None, 0, None)
    closes = pd.to_numeric(bars.set_index("day")["close"], errors="coerce").dropna()
    returns = closes.pct_change().dropna().tail(window)
    if len(returns) < 2:
        return Windowed(None, len(returns), None)
    return Windowed(float(returns.std(ddof=1) * 100), len(returns), returns.index[-1])


@uses("daily_indicators")
def latest_indicators(con: duckdb.DuckDBPyConnection, newest: str | None = None) -> pd.DataFrame:
    """Every symbol's newest `daily_indicators` row (the technical-analysis table); with
    `newest` (SQL over the dataset's newest files), of the symbols in those files."""
    have = column_names(con, "daily_indicators")
    if not {"symbol", "day"} <= set(have):
        return pd.DataFrame()
    cols = ["symbol", "day", *(c for c in ("close", *INDICATOR_COLUMNS) if c in have)]
    relation = f"({newest})" if newest is not None else "daily_indicators"
    return frame(
        con,
        f"SELECT {select_list(cols)} FROM {relation} "
        "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY day DESC) = 1 ORDER BY symbol",
    )
