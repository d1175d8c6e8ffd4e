"""Market overview: the latest quote per symbol, sparklines, movers, breadth and summary tiles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from bucketpipe.catalog.datasets.market import SENTIMENT
from bucketpipe.clean.overview import OVERVIEW
from bucketpipe.lake.duck import quote_ident
from bucketpipe.serve.queries.base import columns, frame, has_view, uses, views
from bucketpipe.serve.reader import recent_view

# The four levels of the predecessor plus an explicit 'unchanged' for exactly 0 %.
SENTIMENT_ORDER = ("strong bullish", "bullish", "unchanged", "bearish", "strong bearish")


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


OVERVIEW_SPARK_DAYS = 30
# The overview's own columns: everything but lineage (`_...`) and the partition (`dt`). It has
# `name` and `volume` exactly when the computed answer had them.
OVERVIEW_SQL = (
    f"SELECT COLUMNS(c -> c NOT LIKE '\\_%' ESCAPE '\\' AND c <> 'dt') FROM {OVERVIEW} "
    "ORDER BY symbol"
)


@uses("quotes", "company_profiles", "daily_bars", OVERVIEW)
def latest_quotes(
    con: duckdb.DuckDBPyConnection, spark_days: int = OVERVIEW_SPARK_DAYS
) -> pd.DataFrame:
    """One row per symbol: its newest quote, day range, sentiment, name and a sparkline.

    Read from `market_overview` (one small file clean rewrites whenever its inputs change)
    when it is registered: the session registers it only while it matches the current
    snapshots of its inputs. Otherwise computed from the inputs (`compute_latest_quotes`).
    """
    registered = views(con)
    if "quotes" not in registered:
        return pd.DataFrame()
    if spark_days != OVERVIEW_SPARK_DAYS or OVERVIEW not in registered:
        return compute_latest_quotes(con, spark_days)
    return frame(con, OVERVIEW_SQL)


def compute_latest_quotes(
    con: duckdb.DuckDBPyConnection, spark_days: int = OVERVIEW_SPARK_DAYS
) -> pd.DataFrame:
    """`latest_quotes` computed from quotes, profiles and bars (what `market_overview` holds).

    The sparkline is the last price of each of the symbol's newest `spark_days` days. With a
    recent-window view (`reader.RECENT_DAYS` of quotes, what a dashboard session registers),
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
    if "volume" in columns(con, "daily_bars"):
        volume = ", b.volume"
        join += (
            " LEFT JOIN (SELECT symbol, arg_max(volume, day) AS volume FROM daily_bars "
            "GROUP BY symbol) AS b USING (symbol)"
        )
    sql = f"""
        WITH latest AS (
            SELECT symbol, ts, price, change, change_pct, open, high, low, prev_close
            FROM {quote_ident(source)}
            QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) = 1
        ), spark AS ({SPARK_SQL.format(source=quote_ident(source), where="")})
        SELECT l.*, {SENTIMENT} AS sentiment, s.trend{names}{volume}
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


@dataclass(frozen=True)
class MarketSummary:
    """The tiles of the overview."""

    symbols: int
    average_price: float | None
    mean_change_pct: float | None
    advancers: int
    decliners: int
    unchanged: int
    total_volume: float | None
    newest: datetime | None

    @property
    def trend(self) -> str:
        """'up', 'down' or 'flat' by the mean change %."""
        if self.mean_change_pct is None or self.mean_change_pct == 0:
            return "flat"
        return "up" if self.mean_change_pct > 0 else "down"


def _mean(series: pd.Series) -> float | None:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return float(values.mean()) if len(values) else None


def summarize(latest: pd.DataFrame) -> MarketSummary:
    """Tiles from `latest_quotes` (pure)."""
    if latest.empty:
        return MarketSummary(0, None, None, 0, 0, 0, None, None)
    change = pd.to_numeric(latest["change_pct"], errors="coerce")
    volume = None
    if "volume" in latest and latest["volume"].notna().any():
        volume = float(pd.to_numeric(latest["volume"], errors="coerce").sum())
    newest = pd.to_datetime(latest["ts"]).max()
    return MarketSummary(
        symbols=int(latest["symbol"].nunique()),
        average_price=_mean(latest["price"]),
        mean_change_pct=_mean(change),
        advancers=int((change > 0).sum()),
        decliners=int((change < 0).sum()),
        unchanged=int((change == 0).sum()),
        total_volume=volume,
        newest=None if pd.isna(newest) else newest.to_pydatetime(),
    )


def movers(latest: pd.DataFrame, n: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(top gainers, top losers) by change %, at most `n` each; a symbol is never in both."""
    if latest.empty:
        return latest, latest
    ranked = latest.dropna(subset=["change_pct"]).sort_values("change_pct", ascending=False)
    gainers = ranked[ranked["change_pct"] > 0].head(n)
    losers = ranked[ranked["change_pct"] < 0].sort_values("change_pct").head(n)
    return gainers, losers


def sentiment_counts(latest: pd.DataFrame) -> pd.DataFrame:
    """Symbols per sentiment level, in a fixed order (levels with no symbol included)."""
    counts = latest["sentiment"].value_counts() if not latest.empty else pd.Series(dtype=int)
    return pd.DataFrame(
        {
            "sentiment": list(SENTIMENT_ORDER),
            "symbols": [int(counts.get(s, 0)) for s in SENTIMENT_ORDER],
        }
    )


def day_range_position(price: float, low: float, high: float) -> float | None:
    """Where the price sits in the day's range, 0 (at the low) to 1 (at the high)."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (price, low, high)):
        return None
    if high <= low:
        return None
    return min(1.0, max(0.0, (price - low) / (high - low)))
