"""Human column labels, units and formats for tables built from dataset rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from bucketpipe.app.ui import dataframe, day, moment
from bucketpipe.serve.queries.explore import (
    ESTIMATE,
    EXACT_DISTINCT_MAX,
    PivotExtent,
    tidy_profile,
)

# Names whose plain "snake case to words" reading is wrong or lacks the unit.
LABELS = {
    "ex_date": "Ex-dividend date",
    "pay_date": "Pay date",
    "adjusted_amount": "Adjusted amount",
    "eps_diluted": "EPS, diluted",
    "surprise_pct": "Surprise %",
    "change_pct": "Change %",
    "transaction_code": "Code",
    "transaction_price": "Price",
    "share": "Shares held after",
    "change": "Change",
    "shares_changed": "Shares changed",
    "is_derivative": "Derivative",
    "filed_date": "Filed",
    "form": "Form",
    "stockholders_equity": "Equity",
    "operating_cash_flow": "Operating cash flow",
    "rsi_14": "RSI 14",
    "macd_hist": "MACD histogram",
    "macd_signal": "MACD signal",
    "sma_5": "SMA 5",
    "sma_20": "SMA 20",
    "sma_50": "SMA 50",
    "ema_12": "EMA 12",
    "ema_26": "EMA 26",
    "bb_upper": "Bollinger upper",
    "bb_middle": "Bollinger middle",
    "bb_lower": "Bollinger lower",
    "volatility_20": "Volatility 20 d %",
    "daily_return": "Daily return %",
    "strong_buy": "Strong buy",
    "strong_sell": "Strong sell",
    "mention": "Mentions",
    "positive_mention": "Positive",
    "negative_mention": "Negative",
    "at_time": "Time",
    "ts": "Time",
    "published_at": "Published",
    "_reject_reason": "Reason",
    "_clean_run": "Clean run",
    "_ingest_run": "Ingest run",
    "_fetched_at": "Fetched",
    "_source": "Source",
}
# Amounts in a filing's or quote's currency, or share counts, read as 1.2B when large (a
# quote's `change` is a price difference: shown in full).
COMPACT = {
    "revenue",
    "net_income",
    "total_assets",
    "total_liabilities",
    "stockholders_equity",
    "operating_cash_flow",
    "volume",
    "market_cap",
    "share",
    "change",
    "shares_changed",
}
PERCENT_OF_ONE = {"volatility_20", "daily_return"}  # stored as fractions, shown in %
PLAIN = {"year", "quarter"}  # integers that must not get thousands separators
# Indicators to the decimals their tiles show: RSI to 0.1, MACD to 0.001, averages and bands
# as prices (their own computed decimals, 61.1505 or 180.7286, are noise).
INDICATOR_DECIMALS = {"rsi_14": 1, "macd": 3, "macd_signal": 3, "macd_hist": 3}
INDICATOR_DECIMALS |= {f"sma_{n}": 2 for n in (5, 20, 50)} | {f"ema_{n}": 2 for n in (12, 26)}
INDICATOR_DECIMALS |= {f"bb_{band}": 2 for band in ("upper", "middle", "lower")}
# Signed differences that may be a fraction of a cent, to the 4 decimals Finnhub gives them
# (an EPS surprise of -0.0041 is not -0.00).
SUB_CENT = {"surprise"}


# Words a column name spells in lower case that read in capitals, and unit suffixes.
ACRONYMS = {
    w: w.upper()
    for w in ("id", "eps", "ipo", "url", "utc", "sma", "ema", "rsi", "macd", "ttm", "ok", "http")
}
ACRONYMS |= {"pe": "P/E", "roe": "ROE", "roa": "ROA", "roi": "ROI", "ebitda": "EBITDA"}
# Units a name ends with, as they are written (snake_case lower-cased them).
UNITS = {
    "pct": "%",
    "s": "(s)",
    "ms": "(ms)",
    "hz": "Hz",
    "db": "dB",
    "dbm": "dBm",
    "ppm": "ppm",
    "kwh": "kWh",
    "mah": "mAh",
}
# Units whose capitals snake_case split off as a word of their own (`Pressure hPa` ->
# `pressure_h_pa`): the last two words read as the unit again.
SPLIT_UNITS = {
    ("h", "pa"): "hPa",
    ("k", "pa"): "kPa",
    ("k", "wh"): "kWh",
    ("k", "w"): "kW",
    ("m", "v"): "mV",
    ("m", "a"): "mA",
    ("m", "ah"): "mAh",
    ("d", "b"): "dB",
    ("d", "bm"): "dBm",
    ("k", "hz"): "kHz",
    ("m", "hz"): "MHz",
    ("g", "hz"): "GHz",
    ("km", "h"): "km/h",
    ("m", "s"): "m/s",
}
# A `_c` (`_f`) ends a temperature in °C (°F) only after one of these words; elsewhere a last
# word of one letter is a unit or a name's letter and reads in capitals (`battery_v`:
# Battery V, `vitamin_c`: Vitamin C).
TEMPERATURES = ("temp", "temperature", "dew", "dewpoint")
DEGREES = {"c": "\u00b0C", "f": "\u00b0F"}


def label(name: str) -> str:
    """A column's human label: the known one, else its words (`user_id` -> `User ID`,
    `humidity_pct` -> `Humidity %`)."""
    return LABELS.get(name) or humanised(name)


def humanised(name: str) -> str:
    words = [w for w in str(name).split("_") if w]
    if not words:
        return str(name)
    # Finnhub's `week52_high` / `week_52_low`: a 52-week figure.
    text = "_".join(words).lower().replace("week_52", "week52")
    words = ["52-week" if w == "week52" else w for w in text.split("_")]
    unit = SPLIT_UNITS.get((words[-2], words[-1])) if len(words) > 2 else None
    if unit:
        words = words[:-2]
    out = []
    for i, word in enumerate(words):
        low = word.lower()
        last = i and i == len(words) - 1
        if last and low in DEGREES and any(w in TEMPERATURES for w in words[:-1]):
            out.append(DEGREES[low])
        elif low in ACRONYMS:
            out.append(ACRONYMS[low])
        elif last and low in UNITS:
            out.append(UNITS[low])
        elif last and len(low) == 1 and low.isalpha():
            out.append(low.upper())
        else:
            out.append(low)
    text = " ".join([*out, unit] if unit else out)
    return text[0].upper() + text[1:]


def phrase(name: str) -> str:
    """The label inside a sentence: `Daily return %` -> `daily return %`, `SMA 5` stays."""
    text = label(name)
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def measure(value: str | None, agg: str) -> str:
    """What a chart's figures are, inside a sentence: `rows`, `mean of daily return %`."""
    return "rows" if value is None else f"{agg} of {phrase(value)}"


def pick(where: Any, text: str, options: list[Any], key: str, none: str = "", **kw: Any) -> Any:
    """A selectbox of column names showing each one's label (`none` names the None option);
    it returns the name."""
    return where.selectbox(
        text, options, key=key, format_func=lambda c: none if c is None else label(c), **kw
    )


def factor(name: str) -> float:
    """What a stored value is multiplied by to read in its label's unit (a fraction as %)."""
    return 100.0 if name in PERCENT_OF_ONE else 1.0


def config(table: pd.DataFrame) -> dict[str, Any]:
    """A Streamlit column_config giving every column a label, a unit and a format."""
    out: dict[str, Any] = {}
    for name in table.columns:
        out[str(name)] = _column(str(name), table[name])
    return out


def _column(name: str, values: pd.Series) -> Any:
    text = label(name)
    if pd.api.types.is_datetime64_any_dtype(values):
        # A time with a zone says it (UTC), as the tiles and captions do; a zone-less one not.
        zoned = isinstance(values.dtype, pd.DatetimeTZDtype)
        return st.column_config.DatetimeColumn(
            text, format="YYYY-MM-DD HH:mm z" if zoned else "YYYY-MM-DD HH:mm"
        )
    if values.dtype == object and _all_dates(values):
        return st.column_config.DateColumn(text, format="YYYY-MM-DD")
    if pd.api.types.is_bool_dtype(values):
        return st.column_config.CheckboxColumn(text)
    if not pd.api.types.is_numeric_dtype(values):
        return st.column_config.TextColumn(text)
    if name in PLAIN:
        return st.column_config.NumberColumn(text, format="%d")
    if name in COMPACT and _large(values):
        return st.column_config.NumberColumn(text, format="compact")
    if name.endswith("_pct"):
        # A change is signed (+1.20 %); a level (humidity, a yield, a margin) is not.
        sign = "+" if any(word in name for word in CHANGE_WORDS) else ""
        return st.column_config.NumberColumn(text, format=f"%{sign}.2f %%")
    if name in SUB_CENT:
        return st.column_config.NumberColumn(text, format="%+.4f")
    if name in INDICATOR_DECIMALS:
        return st.column_config.NumberColumn(text, format=f"%.{INDICATOR_DECIMALS[name]}f")
    if pd.api.types.is_integer_dtype(values):
        return st.column_config.NumberColumn(text, format="localized")
    return st.column_config.NumberColumn(text, format=f"%.{decimals(values)}f")


# Words of a `_pct` column that is a change, written with its sign.
CHANGE_WORDS = ("change", "return", "surprise", "growth", "delta", "diff")


def decimals(values: pd.Series, sample: int = 1000) -> int:
    """The decimals a float column needs, 2 to 4: the fewest that write every sampled value
    exactly (3.355 is not 3.35 or 3.36), else 4."""
    present = pd.to_numeric(values, errors="coerce").dropna().head(sample).to_numpy(float)
    present = present[np.isfinite(present)]
    for places in (2, 3):
        if np.allclose(present, np.round(present, places), rtol=0, atol=1e-9):
            return places
    return 4


# From this size on an amount reads compact (1.2 M); below it every digit is shown (a quote's
# price change of 4.07 is not "4.1", an insider's change of 1,234,000 shares is "1.2 M").
COMPACT_FROM = 10_000


def _large(values: pd.Series) -> bool:
    present = pd.to_numeric(values, errors="coerce").abs()
    return bool((present >= COMPACT_FROM).any())


def _all_dates(values: pd.Series) -> bool:
    present = values.dropna()
    return not present.empty and all(hasattr(v, "isoformat") for v in present.head(20))


# SEC Form 4 transaction codes, as Finnhub's insider transactions carry them.
TRANSACTION_CODES = {
    "P": "purchase",
    "S": "sale",
    "A": "grant or award",
    "D": "sale or transfer to the issuer",
    "F": "tax or exercise price paid in shares",
    "I": "discretionary",
    "M": "option exercise",
    "C": "conversion",
    "E": "derivative expired",
    "H": "derivative cancelled",
    "O": "out-of-the-money exercise",
    "X": "in-the-money exercise",
    "G": "gift",
    "L": "small acquisition",
    "W": "will or inheritance",
    "Z": "voting trust",
    "J": "other",
    "K": "equity swap",
    "U": "tender of shares",
    "V": "reported early",
}


def frame(table: pd.DataFrame) -> pd.DataFrame:
    """Fractions stored as 0.012 shown as 1.2 (the label says %); a Form 4 code with its
    meaning (`F` as `F · tax or exercise price paid in shares`)."""
    out = table.copy()
    for name in PERCENT_OF_ONE & set(out.columns):
        out[name] = pd.to_numeric(out[name], errors="coerce") * 100
    if "transaction_code" in out:
        out["transaction_code"] = [
            f"{code} \u00b7 {TRANSACTION_CODES[code]}" if code in TRANSACTION_CODES else code
            for code in out["transaction_code"]
        ]
    return out


def show(table: pd.DataFrame, **kwargs: Any) -> None:
    """st.dataframe with human labels, units and formats."""
    dataframe(frame(table), hide_index=True, column_config=config(table), **kwargs)


# The summary table's figures, named for a reader, in the order shown.
PROFILE_LABELS = {
    "label": "Column",
    "column": "Name in SQL",
    "type": "Type",
    "count": "Rows",
    "null_pct": "Missing %",
    "distinct": "Distinct",
    "min": "Minimum",
    "p25": "25th percentile",
    "median": "Median",
    "mean": "Mean",
    "p75": "75th percentile",
    "max": "Maximum",
    "std": "Std. deviation",
}
STATISTICS = ("min", "max", "mean", "std", "p25", "median", "p75")


def profile_table(stats: pd.DataFrame) -> pd.DataFrame:
    """SUMMARIZE's figures in each column's unit (a fraction as %), readable, each column's
    label first (its name in SQL beside it); a figure a column has not is an en dash."""
    out = stats.copy()
    present = [c for c in STATISTICS if c in out]
    for index, name in zip(out.index, out["column"], strict=True):
        if factor(str(name)) != 1.0:
            for stat in present:
                out.loc[index, stat] = _times(out.loc[index, stat], factor(str(name)))
    out = tidy_profile(out)
    out.insert(0, "label", out["column"].map(lambda c: label(str(c))))
    out[present] = out[present].astype(object).where(out[present].notna(), "\u2013")
    if "type" in out:
        timed = out["type"].astype(str).str.startswith("TIMESTAMP")
        for stat in present:
            out.loc[timed, stat] = out.loc[timed, stat].map(_time_text)
    return out


def _time_text(value: Any) -> Any:
    """SUMMARIZE's text of a time (`2026-11-17 14:30:00+00`, maybe marked an estimate) as the
    page writes times (`2026-11-17 14:30 UTC`); anything else as it is."""
    if not isinstance(value, str):
        return value
    mark = ESTIMATE if value.startswith(ESTIMATE) else ""
    try:
        parsed = datetime.fromisoformat(value.removeprefix(mark))
    except ValueError:  # nanoseconds, infinity: shown as DuckDB writes them
        return value
    return mark + moment(parsed)


def _times(value: Any, by: float) -> Any:
    try:
        return str(float(value) * by)
    except (TypeError, ValueError):
        return value


def profile_config() -> dict[str, Any]:
    """The summary table's column config: labels, widths, formats."""
    out: dict[str, Any] = {k: st.column_config.TextColumn(v) for k, v in PROFILE_LABELS.items()}
    out["distinct"] = st.column_config.TextColumn(
        "Distinct",
        help=f"Exact up to {EXACT_DISTINCT_MAX:,}; above it an estimate, marked \u2248.",
    )
    for stat in ("p25", "median", "p75"):
        out[stat] = st.column_config.TextColumn(
            PROFILE_LABELS[stat],
            help=f"Exact up to {EXACT_DISTINCT_MAX:,} rows; above it an estimate, marked \u2248.",
        )
    out["null_pct"] = st.column_config.NumberColumn("Missing %", format="%.1f %%")
    out["count"] = st.column_config.NumberColumn("Rows", format="localized")
    # Wide enough for the longest type name a column gets (`TIMESTAMP WITH TIME ZONE`); the
    # extremes sized to their values, so a run id or a time to the microsecond is not cut.
    out["type"] = st.column_config.TextColumn("Type", width="medium")
    out["min"] = st.column_config.TextColumn("Minimum")
    out["max"] = st.column_config.TextColumn("Maximum")
    return out


def pivot_cut(extent: PivotExtent, limit: int, rows: str, cols: str, timed: bool) -> str:
    """What the pivot leaves out, in words ("" when it shows everything)."""
    cut = []
    if extent.rows > limit:
        cut.append(f"the {limit:,} most common of {extent.rows:,} {phrase(rows)} values")
    if extent.cols > limit and timed:
        cut.append(f"the newest {limit:,} of {extent.cols:,} days (from {day(extent.first)})")
    elif extent.cols > limit:
        cut.append(f"the {limit:,} most common of {extent.cols:,} {phrase(cols)} values")
    return "; ".join(cut)
