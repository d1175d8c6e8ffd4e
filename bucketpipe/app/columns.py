"""Human column labels, units and formats for tables built from dataset rows."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

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
    "change": "Shares changed",
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
    "_reject_reason": "Reason",
    "_clean_run": "Clean run",
    "_ingest_run": "Ingest run",
    "_fetched_at": "Fetched",
    "_source": "Source",
}
# Amounts in a filing's or quote's currency, large enough to read as 1.2B.
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
}
PERCENT_OF_ONE = {"volatility_20", "daily_return"}  # stored as fractions, shown in %
PLAIN = {"year", "quarter"}  # integers that must not get thousands separators


def label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").strip().capitalize()


def config(table: pd.DataFrame) -> dict[str, Any]:
    """A Streamlit column_config giving every column a label, a unit and a format."""
    out: dict[str, Any] = {}
    for name in table.columns:
        out[str(name)] = _column(str(name), table[name])
    return out


def _column(name: str, values: pd.Series) -> Any:
    text = label(name)
    if pd.api.types.is_datetime64_any_dtype(values):
        return st.column_config.DatetimeColumn(text, format="YYYY-MM-DD HH:mm")
    if values.dtype == object and _all_dates(values):
        return st.column_config.DateColumn(text, format="YYYY-MM-DD")
    if pd.api.types.is_bool_dtype(values):
        return st.column_config.CheckboxColumn(text)
    if not pd.api.types.is_numeric_dtype(values):
        return st.column_config.TextColumn(text)
    if name in PLAIN:
        return st.column_config.NumberColumn(text, format="%d")
    if name in COMPACT:
        return st.column_config.NumberColumn(text, format="compact")
    if name.endswith("_pct"):
        return st.column_config.NumberColumn(text, format="%+.2f %%")
    if pd.api.types.is_integer_dtype(values):
        return st.column_config.NumberColumn(text, format="localized")
    return st.column_config.NumberColumn(text, format="%.2f")


def _all_dates(values: pd.Series) -> bool:
    present = values.dropna()
    return not present.empty and all(hasattr(v, "isoformat") for v in present.head(20))


def frame(table: pd.DataFrame) -> pd.DataFrame:
    """Fractions stored as 0.012 shown as 1.2 (the label says %)."""
    out = table.copy()
    for name in PERCENT_OF_ONE & set(out.columns):
        out[name] = pd.to_numeric(out[name], errors="coerce") * 100
    return out


def show(table: pd.DataFrame, **kwargs: Any) -> None:
    """st.dataframe with human labels, units and formats."""
    st.dataframe(frame(table), hide_index=True, column_config=config(table), **kwargs)
