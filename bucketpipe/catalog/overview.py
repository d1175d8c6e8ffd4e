"""The `market_overview` dataset's defining query: each symbol's newest quote, sparkline, name
and volume. Clean runs it to keep the dataset; the market page runs it while the dataset lags
behind its inputs, so both always give the same answer."""

from __future__ import annotations

import duckdb
import pandas as pd

from bucketpipe.catalog.datasets.bars import MARKET_OVERVIEW, MARKET_TZ
from bucketpipe.catalog.datasets.market import SENTIMENT
from bucketpipe.lake.duck import quote_ident, quote_literal
from bucketpipe.lake.views import columns, frame, has_view, recent_view, views

OVERVIEW = MARKET_OVERVIEW.name
OVERVIEW_SPARK_DAYS = 30

# The last price of each of a symbol's newest `?` days, oldest first.
SPARK_SQL = """
    SELECT symbol, list(close ORDER BY day) AS trend
    FROM (
        SELECT * FROM (
            SELECT symbol, CAST(ts AS DATE) AS day, arg_max(price, ts) AS close
            FROM {source} {where} GROUP BY ALL
        )
        QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY day DESC) <= ?
    ) GROUP BY symbol
"""


def compute_latest_quotes(
    con: duckdb.DuckDBPyConnection, spark_days: int = OVERVIEW_SPARK_DAYS
) -> pd.DataFrame:
    """`latest_quotes` computed from quotes, profiles and bars (what `market_overview` holds).

    The sparkline is the last price of each of the symbol's newest `spark_days` days. With a
    recent-window view (`views.RECENT_DAYS` of quotes, what a dashboard session registers),
    only that window is read, so the overview costs the same at any length of history; the
    overview then lists the symbols quoted within the window. A symbol with fewer than
    `spark_days` days in the window may have older days outside it: its sparkline is taken
    from the whole history instead, so every sparkline is what the full scan would give.
    """
    if "quotes" not in views(con):
        return pd.DataFrame()
    window = recent_view("quotes")
    source = window if has_view(con, window) else "quotes"
    names = ""
    join = ""
    if "name" in columns(con, "company_profiles"):
        names = ", p.name"
        join = (
            "LEFT JOIN (SELECT symbol, arg_max(name, as_of) AS name FROM company_profiles "
            "GROUP BY symbol) AS p USING (symbol)"
        )
    volume = ""
    bar_columns = columns(con, "daily_bars")
    if "volume" in bar_columns:
        # The newest bar with a volume (`arg_max` skips a NULL volume), and its day.
        volume = ", b.volume, b.volume_day"
        join += (
            " LEFT JOIN (SELECT symbol, arg_max(volume, day) AS volume, "
            "max(day) FILTER (WHERE volume IS NOT NULL) AS volume_day FROM daily_bars "
            "GROUP BY symbol) AS b USING (symbol)"
        )
    day_range = ""
    if {"open", "high", "low"} <= set(bar_columns):
        # The day's open, high and low are its bar's, as the stock page and the bars show
        # them (a bar spans every quote committed for its day, whichever delivery brought it).
        day = f"CAST(timezone({quote_literal(MARKET_TZ)}, l.ts) AS DATE)"
        day_range = (
            " REPLACE ("
            + ", ".join(
                f"CASE WHEN d.day = {day} THEN d.{c} ELSE l.{c} END AS {c}"
                for c in ("open", "high", "low")
            )
            + ")"
        )
        join += (
            " LEFT JOIN (SELECT symbol, day, open, high, low FROM daily_bars "
            "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY day DESC) = 1) AS d "
            "USING (symbol)"
        )
    sql = f"""
        WITH latest AS (
            SELECT symbol, ts, price, change, change_pct, open, high, low, prev_close
            FROM {quote_ident(source)}
            QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) = 1
        ), spark AS ({SPARK_SQL.format(source=quote_ident(source), where="")})
        SELECT l.*{day_range}, {SENTIMENT} AS sentiment, s.trend{names}{volume}
        FROM latest AS l LEFT JOIN spark AS s USING (symbol) {join}
        ORDER BY symbol
    """
    latest = frame(con, sql, [spark_days])
    if source == "quotes" or latest.empty:
        return latest
    short = [
        str(symbol)
        for symbol, trend in zip(latest["symbol"], latest["trend"], strict=True)
        if trend is None or len(trend) < spark_days
    ]
    if short:
        latest["trend"] = _full_sparklines(con, latest, short, spark_days)
    return latest


def _full_sparklines(
    con: duckdb.DuckDBPyConnection, latest: pd.DataFrame, symbols: list[str], spark_days: int
) -> pd.Series:
    """The `trend` column with the sparklines of `symbols` recomputed over all of `quotes`."""
    placeholders = ", ".join("?" for _ in symbols)
    sql = SPARK_SQL.format(source="quotes", where=f"WHERE symbol IN ({placeholders})")
    full = frame(con, sql, [*symbols, spark_days])
    trends = dict(zip(full["symbol"], full["trend"], strict=True))
    return pd.Series(
        [trends.get(s, t) for s, t in zip(latest["symbol"], latest["trend"], strict=True)],
        index=latest.index,
        dtype=object,
    )
