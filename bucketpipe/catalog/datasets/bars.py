"""Derived datasets: daily bars and their technical indicators (computed by
`bucketpipe.clean.derived` after each clean run)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bucketpipe.catalog.spec import Column, DatasetSpec

# The free Finnhub plan covers US exchanges: a quote belongs to its New York trading day.
MARKET_TZ = "America/New_York"
# The regular session closes at 16:00 New York time (early closes are not modelled).
SESSION_CLOSE_HOUR = 16


def market_days(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants (UTC) that bound the market days `start` to `end`: midnight in New York.

    Daily bars are New York days, so a quote taken at 21:00 there (02:00 UTC the next day)
    belongs to the bar of its New York day, and so in the window that shows that bar.
    """
    zone = ZoneInfo(MARKET_TZ)
    first = datetime.combine(start, time.min, zone).astimezone(UTC)
    last = datetime.combine(end + timedelta(days=1), time.min, zone).astimezone(UTC)
    return first, last


def _col(name: str, typ: str, description: str, due: str = "") -> Column:
    return Column(name, typ, "", description, due)


# The bar (1 = a symbol's first) from which each indicator has a value, as
# `catalog.indicators` computes them (a test holds the two together).
WARMUP = {
    "sma_5": 5,
    "sma_20": 20,
    "sma_50": 50,
    "ema_12": 12,
    "ema_26": 26,
    "rsi_14": 15,
    "macd": 26,
    "macd_signal": 34,
    "macd_hist": 34,
    "bb_middle": 20,
    "bb_upper": 20,
    "bb_lower": 20,
    "daily_return": 2,
    "volatility_20": 21,
}


def _indicator(name: str, description: str) -> Column:
    """An indicator column, due from the symbol's bar from which it has a value."""
    bar = "count(*) OVER (PARTITION BY symbol ORDER BY day ROWS UNBOUNDED PRECEDING)"
    return _col(name, "DOUBLE", description, f"{bar} >= {WARMUP[name]}")


LINEAGE = (
    _col("_fetched_at", "TIMESTAMPTZ", "When the row was computed."),
    _col("_clean_run", "VARCHAR", "Run id of the clean run that computed the row."),
)
BAR_COLUMNS = (
    _col("symbol", "VARCHAR", "Ticker symbol."),
    _col("day", "DATE", "Trading day (New York)."),
    _col("open", "DOUBLE", "Open: the candle's, else the quotes' day open (first price)."),
    _col(
        "high",
        "DOUBLE",
        "High: the candle's (or the highest day high or price quoted, if higher), else "
        "the highest day high or price quoted.",
    ),
    _col(
        "low",
        "DOUBLE",
        "Low: the candle's (or the lowest day low or price quoted, if lower), else the "
        "lowest day low or price quoted.",
    ),
    _col(
        "close",
        "DOUBLE",
        "Close: the day's last quoted price when it was quoted at or after the 16:00 close "
        "(New York), else the candle's, else the day's last quoted price.",
    ),
)
DAILY_BARS = DatasetSpec(
    name="daily_bars",
    description="One open/high/low/close bar per symbol and trading day, from daily "
    "candles when available, else built from quote snapshots (`source` says which).",
    endpoints=(),
    derived_from=("candles", "quotes"),
    columns=(
        *BAR_COLUMNS,
        _col(
            "volume",
            "BIGINT",
            "Shares traded (candles only; NULL when built from quotes).",
            "source <> 'quotes'",
        ),
        _col(
            "source",
            "VARCHAR",
            "How the bar was made: 'candle', 'quotes', or 'candle+quotes' (a candle widened to "
            "committed quotes outside its range, or closed at a quote taken after the close "
            "that differs from it).",
        ),
        _col("n_quotes", "BIGINT", "Quote snapshots seen that day."),
        _col("final", "BOOLEAN", "False while the day is not over (a provisional bar)."),
        *LINEAGE,
    ),
    primary_key=("symbol", "day"),
    time_column="day",
    # A year per file, sorted by symbol: a year of one symbol is a few row groups of one
    # or two files, not a slice of every month's file.
    partition_by="year",
    cluster_by=("symbol", "day"),
    # A recomputed bar (more quotes, a candle arriving, the day ending) replaces the old.
    on_conflict="latest",
    tags=("market", "derived"),
)
DAILY_INDICATORS = DatasetSpec(
    name="daily_indicators",
    description="Technical indicators of the daily bars, computed per symbol: moving "
    "averages, RSI, MACD, Bollinger bands, returns and volatility.",
    endpoints=(),
    derived_from=("daily_bars",),
    columns=(
        *BAR_COLUMNS,
        _indicator("sma_5", "Simple moving average of 5 closes."),
        _indicator("sma_20", "Simple moving average of 20 closes."),
        _indicator("sma_50", "Simple moving average of 50 closes."),
        _indicator("ema_12", "Exponential moving average, 12 days, SMA-seeded."),
        _indicator("ema_26", "Exponential moving average, 26 days, SMA-seeded."),
        _indicator("rsi_14", "Relative strength index, 14 days, Wilder smoothing."),
        _indicator("macd", "MACD line: EMA 12 - EMA 26."),
        _indicator("macd_signal", "Signal line: EMA 9 of the MACD line."),
        _indicator("macd_hist", "Histogram: MACD - signal."),
        _indicator("bb_middle", "Bollinger middle band: SMA 20."),
        _indicator("bb_upper", "Bollinger upper band: SMA 20 + 2 population sigma."),
        _indicator("bb_lower", "Bollinger lower band: SMA 20 - 2 population sigma."),
        _indicator("daily_return", "Close / previous close - 1 (a fraction)."),
        _indicator("volatility_20", "Std of the last 20 daily returns (a fraction)."),
        *LINEAGE,
    ),
    primary_key=("symbol", "day"),
    time_column="day",
    # A year per file, sorted by symbol: a year of one symbol is a few row groups of one
    # or two files, not a slice of every month's file.
    partition_by="year",
    cluster_by=("symbol", "day"),
    # Recomputed over the whole history: unchanged rows are duplicates, changed replace.
    on_conflict="latest",
    tags=("market", "derived"),
)
MARKET_OVERVIEW = DatasetSpec(
    name="market_overview",
    description="The market page in one small file: each symbol's newest quote with its "
    "sentiment, name, volume and a sparkline of its last 30 daily closes, rewritten "
    "whenever quotes, profiles or bars change.",
    endpoints=(),
    derived_from=("quotes", "company_profiles", "daily_bars"),
    columns=(
        _col("symbol", "VARCHAR", "Ticker symbol."),
        _col("ts", "TIMESTAMPTZ", "Time of the symbol's newest quote (UTC)."),
        _col("price", "DOUBLE", "Last price."),
        _col("change", "DOUBLE", "Change since the previous close."),
        _col("change_pct", "DOUBLE", "Change since the previous close in %."),
        _col("open", "DOUBLE", "Open price of the day."),
        _col("high", "DOUBLE", "High price of the day so far."),
        _col("low", "DOUBLE", "Low price of the day so far."),
        _col("prev_close", "DOUBLE", "Previous close price."),
        _col(
            "sentiment",
            "VARCHAR",
            "The change's label, from 'strong bullish' to 'strong bearish'.",
        ),
        _col(
            "trend",
            "DOUBLE[]",
            "The last price of each of the symbol's newest 30 days, oldest first.",
        ),
        _col(
            "name",
            "VARCHAR",
            "Company name (newest profile; no column before the first profiles are committed).",
        ),
        _col(
            "volume",
            "BIGINT",
            "Shares traded on the symbol's newest bar with a volume (candles only; no "
            "column before the first bars are committed).",
            # Due once the lake has candles (a symbol's newest bar carries a volume): a plan
            # without candles has bars from quotes alone, with no volume to give.
            "count(volume) OVER () > 0",
        ),
        _col(
            "volume_day",
            "DATE",
            "Market day of the newest bar with a volume: the day `volume` is from "
            "(present with `volume`).",
            "count(volume) OVER () > 0",
        ),
        *LINEAGE,
    ),
    primary_key=("symbol",),
    time_column="ts",
    partition_by="year",
    tags=("market", "derived"),
)
