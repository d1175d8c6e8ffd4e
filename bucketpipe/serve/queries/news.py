"""Market news (category filter, search) and the IPO and earnings calendars."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pandas as pd

from bucketpipe.serve.queries.base import columns, frame, select_list, uses

NEWS_COLUMNS = ("published_at", "category", "headline", "source", "summary", "url", "related")
IPO_COLUMNS = (
    "ipo_date",
    "listing",
    "name",
    "exchange",
    "status",
    "price_range",
    "shares",
    "total_value",
)
EARNINGS_COLUMNS = (
    "report_date",
    "symbol",
    "hour",
    "year",
    "quarter",
    "eps_estimate",
    "eps_actual",
    "revenue_estimate",
    "revenue_actual",
)
# Finnhub's `hour` codes, spelled out.
HOURS = {"bmo": "before open", "amc": "after close", "dmh": "during market"}


@uses("market_news")
def categories(con: duckdb.DuckDBPyConnection) -> list[str]:
    if "category" not in columns(con, "market_news"):
        return []
    rows = con.execute(
        "SELECT DISTINCT category FROM market_news WHERE category IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


@uses("market_news")
def market_news(
    con: duckdb.DuckDBPyConnection,
    *,
    categories: tuple[str, ...] = (),
    search: str = "",
    limit: int = 50,
) -> pd.DataFrame:
    """Newest articles first, in the given categories, whose headline or summary has `search`."""
    have = columns(con, "market_news")
    cols = [c for c in NEWS_COLUMNS if c in have]
    if "published_at" not in have:
        return pd.DataFrame(columns=list(NEWS_COLUMNS))
    where = ["true"]
    params: list[Any] = []
    if categories and "category" in have:
        where.append("list_contains(?, category)")
        params.append(list(categories))
    text = search.strip()
    if text:
        fields = [c for c in ("headline", "summary", "source") if c in have]
        like = " OR ".join(f"{c} ILIKE ? ESCAPE '\\'" for c in fields)
        where.append(f"({like})")
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern] * len(fields)
    sql = (
        f"SELECT {select_list(cols)} FROM market_news WHERE {' AND '.join(where)} "
        f"ORDER BY published_at DESC LIMIT {int(limit)}"
    )
    return frame(con, sql, params)


@uses("ipo_calendar")
def ipo_calendar(
    con: duckdb.DuckDBPyConnection, start: date, end: date, statuses: tuple[str, ...] = ()
) -> pd.DataFrame:
    """IPOs dated in [start, end], soonest first."""
    have = columns(con, "ipo_calendar")
    if "ipo_date" not in have:
        return pd.DataFrame(columns=list(IPO_COLUMNS))
    cols = [c for c in IPO_COLUMNS if c in have]
    where = "ipo_date BETWEEN ? AND ?"
    params: list[Any] = [start, end]
    if statuses and "status" in have:
        where += " AND list_contains(?, status)"
        params.append(list(statuses))
    return frame(
        con,
        f"SELECT {select_list(cols)} FROM ipo_calendar WHERE {where} ORDER BY ipo_date, listing",
        params,
    )


@uses("earnings_calendar")
def earnings_calendar(
    con: duckdb.DuckDBPyConnection, start: date, end: date, symbols: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Earnings releases in [start, end], soonest first; `hour` spelled out."""
    have = columns(con, "earnings_calendar")
    if "report_date" not in have:
        return pd.DataFrame(columns=list(EARNINGS_COLUMNS))
    cols = [c for c in EARNINGS_COLUMNS if c in have]
    where = "report_date BETWEEN ? AND ?"
    params: list[Any] = [start, end]
    if symbols:
        where += " AND list_contains(?, symbol)"
        params.append(list(symbols))
    out = frame(
        con,
        f"SELECT {select_list(cols)} FROM earnings_calendar WHERE {where} "
        "ORDER BY report_date, symbol",
        params,
    )
    if "hour" in out:
        out["hour"] = out["hour"].map(lambda h: HOURS.get(h, h) if isinstance(h, str) else h)
    return out


@uses("ipo_calendar", "earnings_calendar")
def calendar_bounds(con: duckdb.DuckDBPyConnection, view: str) -> tuple[date, date] | None:
    """First and last date in a calendar dataset (`ipo_calendar` or `earnings_calendar`)."""
    column = {"ipo_calendar": "ipo_date", "earnings_calendar": "report_date"}[view]
    if column not in columns(con, view):
        return None
    row = con.execute(f"SELECT min({column}), max({column}) FROM {view}").fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]
