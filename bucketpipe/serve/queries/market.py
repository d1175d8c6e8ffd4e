"""Market overview: the latest quote per symbol, sparklines, movers, breadth and summary tiles."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pandas as pd

from bucketpipe.catalog.overview import OVERVIEW, OVERVIEW_SPARK_DAYS, compute_latest_quotes
from bucketpipe.serve.queries.base import uses, views

# The four levels of the predecessor plus an explicit 'unchanged' for exactly 0 %.
SENTIMENT_ORDER = ("strong bullish", "bullish", "unchanged", "bearish", "strong bearish")


# The overview's own columns: everything but lineage (`_...`) and the partition (`dt`). It has
# `name` and `volume` exactly when the computed answer had them. Its rows are put in symbol
# order in Arrow (`overview`), not by DuckDB.
OVERVIEW_SQL = f"SELECT COLUMNS(c -> c NOT LIKE '\\_%' ESCAPE '\\' AND c <> 'dt') FROM {OVERVIEW}"


@uses("quotes", "company_profiles", "daily_bars", OVERVIEW)
def latest_quotes(
    con: duckdb.DuckDBPyConnection, spark_days: int = OVERVIEW_SPARK_DAYS
) -> pd.DataFrame:
    """One row per symbol: its newest quote, day range, sentiment, name and a sparkline.

    Read from `market_overview` (one small file clean rewrites whenever its inputs change)
    when it is registered: the session registers it only while it matches the current
    snapshots of its inputs. Otherwise computed from the inputs with the dataset's own query
    (`catalog.overview.compute_latest_quotes`).
    """
    registered = views(con)
    if spark_days == OVERVIEW_SPARK_DAYS and OVERVIEW in registered:
        return overview(con)
    if "quotes" not in registered:
        return pd.DataFrame()
    return compute_latest_quotes(con, spark_days)


def overview(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The stored overview, by symbol: what `ORDER BY symbol` gives, sorted in Arrow.

    DuckDB's sort moves whole rows, the sparkline lists with them: 1.4 ms of the page's 6.6 ms
    of CPU at 5,000 symbols, where Arrow sorts the symbols and takes the rows in 0.8 ms. The
    order is the same: both compare strings byte by byte and put nulls last; only rows of the
    same symbol, which the overview does not have, could come in another order.
    """
    table = con.execute(OVERVIEW_SQL).to_arrow_table()
    result: pd.DataFrame = table.sort_by("symbol").to_pandas()
    return result


def reads(ready: Callable[[str], bool]) -> tuple[str, ...] | None:
    """The datasets `latest_quotes` reads: the stored overview alone while it is current
    (`ready(name)`), so its inputs' views are never opened; else all it may compute from."""
    return (OVERVIEW,) if ready(OVERVIEW) else None


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
    # The first and last market day the volumes are from (each symbol's newest bar with one).
    volume_days: tuple[date, date] | None = None

    @property
    def volume_when(self) -> str:
        """The volumes' day, as `on Fri 4 Dec`, or their span (`from Wed 2 Dec to Fri 4 Dec`)
        when symbols' newest bars differ; '' when unknown."""
        if self.volume_days is None:
            return ""
        first, last = self.volume_days
        if first == last:
            return f"on {day_name(last)}"
        return f"from {day_name(first)} to {day_name(last)}"

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
    days = None
    if "volume" in latest and latest["volume"].notna().any():
        volume = float(pd.to_numeric(latest["volume"], errors="coerce").sum())
        if "volume_day" in latest:
            traded = pd.to_datetime(latest["volume_day"][latest["volume"].notna()]).dropna()
            if len(traded):
                days = (traded.min().date(), traded.max().date())
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
        volume_days=days,
    )


def day_name(day: date) -> str:
    """A day as `Fri 4 Dec`."""
    return f"{day:%a} {day.day} {day:%b}"


def session_name(latest: pd.DataFrame) -> str | None:
    """The day of the newest quote, as `Fri 4 Dec` (None without quotes)."""
    newest = pd.to_datetime(latest["ts"], utc=True).max() if "ts" in latest else None
    return None if newest is None or pd.isna(newest) else day_name(newest)


def movers(latest: pd.DataFrame, n: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(top gainers, top losers) by change %, at most `n` each; a symbol is never in both."""
    if latest.empty:
        return latest, latest
    ranked = latest.dropna(subset=["change_pct"]).sort_values("change_pct", ascending=False)
    gainers = ranked[ranked["change_pct"] > 0].head(n)
    losers = ranked[ranked["change_pct"] < 0].sort_values("change_pct").head(n)
    return gainers, losers


def largest_moves(latest: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """The `n` largest gains and the `n` largest losses by change % (every symbol with a
    change when there are no more than `2 n`), in no particular order."""
    changed = latest.dropna(subset=["change_pct"])
    if len(changed) <= 2 * n:
        return changed
    ranked = changed.sort_values("change_pct", kind="stable")
    return pd.concat([ranked.head(n), ranked.tail(n)])


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
