"""Technical indicators of daily closes, computed per symbol (never across symbols).

Conventions (the ones StockCharts, TA-Lib and most charting tools use):

- SMA n: the mean of the last n closes; undefined for the first n-1 days.
- EMA n: alpha = 2 / (n + 1), recursive (pandas `ewm(adjust=False)`), seeded with the SMA of
  the first n closes, so it starts on day n like the SMA.
- RSI 14 (Wilder): gains and losses of the daily changes; the first averages are the simple
  means of the first 14 changes, then Wilder's smoothing avg = (avg * 13 + x) / 14 (an EMA
  with alpha = 1/14). RSI = 100 - 100 / (1 + avg gain / avg loss); 100 when the average loss
  is 0, 50 when the price did not move at all. Starts on day 15.
- MACD 12/26/9: EMA 12 - EMA 26 (from day 26); signal = EMA 9 of the MACD seeded with the SMA
  of its first 9 values (from day 34); histogram = MACD - signal.
- Bollinger 20, 2: middle = SMA 20, bands = middle +- 2 population standard deviations of
  the same 20 closes (as John Bollinger specifies).
- Daily return: close / previous close - 1, a fraction (0.01 = 1%).
- Volatility 20: the sample standard deviation of the last 20 daily returns, a fraction per
  day, not annualised (multiply by sqrt(252) for an annual figure).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INDICATOR_COLUMNS = (
    "sma_5",
    "sma_20",
    "sma_50",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_middle",
    "bb_upper",
    "bb_lower",
    "daily_return",
    "volatility_20",
)


def sma(values: pd.Series, window: int) -> pd.Series:
    """Simple moving average; NaN until `window` values are available."""
    return values.rolling(window, min_periods=window).mean()


def _seeded_ewm(values: pd.Series, alpha: float, seed_count: int, start: int = 0) -> pd.Series:
    """Recursive average with weight `alpha`, seeded with the mean of `seed_count` values.

    The first `seed_count` values from position `start` are averaged into the seed, placed at
    position `start + seed_count - 1`; the recursion runs from there. NaN before the seed.
    """
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    first = start + seed_count - 1
    if len(values) <= first:
        return out
    tail = values.iloc[first:].astype("float64").copy()
    tail.iloc[0] = float(values.iloc[start : first + 1].mean())
    out.iloc[first:] = tail.ewm(alpha=alpha, adjust=False).mean()
    return out


def ema(values: pd.Series, span: int) -> pd.Series:
    """Exponential moving average, alpha = 2/(span+1), seeded with the first SMA."""
    return _seeded_ewm(values, 2.0 / (span + 1), span)


def rsi(close: pd.Series, period: int = 14) -> pd.Series:
    """Wilder's relative strength index (see the module docstring for the convention)."""
    change = close.astype("float64").diff()
    gain = change.clip(lower=0)
    loss = (-change).clip(lower=0)
    # Position 0 has no change; the seed averages changes 1..period.
    avg_gain = _seeded_ewm(gain, 1.0 / period, period, start=1)
    avg_loss = _seeded_ewm(loss, 1.0 / period, period, start=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    value = value.where(avg_loss != 0, 100.0)
    value = value.where((avg_loss != 0) | (avg_gain != 0), 50.0)
    return value.where(avg_gain.notna())


def macd(
    close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(MACD line, signal line, histogram)."""
    line = ema(close, fast) - ema(close, slow)
    start = slow - 1  # the first position where the line is defined
    signal_line = _seeded_ewm(line, 2.0 / (signal + 1), signal, start=start)
    return line, signal_line, line - signal_line


def bollinger(
    close: pd.Series, window: int = 20, width: float = 2.0
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(middle, upper, lower) bands with the population standard deviation."""
    middle = sma(close, window)
    sigma = close.rolling(window, min_periods=window).std(ddof=0)
    return middle, middle + width * sigma, middle - width * sigma


def daily_returns(close: pd.Series) -> pd.Series:
    """Close-to-close change as a fraction."""
    return close / close.shift(1) - 1.0


def volatility(close: pd.Series, window: int = 20) -> pd.Series:
    """Sample standard deviation of the last `window` daily returns (a fraction)."""
    return daily_returns(close).rolling(window, min_periods=window).std(ddof=1)


def indicators(close: pd.Series) -> pd.DataFrame:
    """Every indicator of one symbol's closes, in day order, one row per close."""
    close = close.astype("float64").reset_index(drop=True)
    line, signal_line, histogram = macd(close)
    middle, upper, lower = bollinger(close)
    return pd.DataFrame(
        {
            "sma_5": sma(close, 5),
            "sma_20": sma(close, 20),
            "sma_50": sma(close, 50),
            "ema_12": ema(close, 12),
            "ema_26": ema(close, 26),
            "rsi_14": rsi(close, 14),
            "macd": line,
            "macd_signal": signal_line,
            "macd_hist": histogram,
            "bb_middle": middle,
            "bb_upper": upper,
            "bb_lower": lower,
            "daily_return": daily_returns(close),
            "volatility_20": volatility(close, 20),
        }
    )


def per_symbol(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars of any number of symbols (columns symbol, day, close, ...) plus every indicator.

    Each symbol's history is sorted by day and computed on its own, so interleaved symbols
    never mix. A symbol with two bars on one day is an error (bars are keyed by symbol+day).
    """
    if bars.duplicated(["symbol", "day"]).any():
        raise ValueError("bars hold more than one row for a symbol and day")
    frames = []
    ordered = bars.sort_values(["symbol", "day"], kind="stable")
    for _, history in ordered.groupby("symbol", sort=True):
        history = history.reset_index(drop=True)
        frames.append(pd.concat([history, indicators(history["close"])], axis=1))
    if not frames:
        return bars.assign(**{name: pd.Series(dtype="float64") for name in INDICATOR_COLUMNS})
    return pd.concat(frames, ignore_index=True)
