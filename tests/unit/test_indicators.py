"""Indicators against published worked examples and values computed by hand."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from bucketpipe.catalog import indicators as ind

# StockCharts ChartSchool worked examples (cs-rsi.xls, cs-movavg.xls, cs-bollinger.xls).
RSI_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826,
    45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439,
    46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672,
    43.4205, 42.6628, 43.1314,
]  # fmt: skip
RSI_PUBLISHED = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
    41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip
MA_CLOSES = [
    22.2734, 22.1940, 22.0847, 22.1741, 22.1840, 22.1344, 22.2337, 22.4323, 22.2436, 22.2933,
    22.1542, 22.3926, 22.3816, 22.6109, 23.3558, 24.0519, 23.7530, 23.8324, 23.9516, 23.6338,
    23.8225, 23.8722, 23.6537, 23.1870, 23.0976, 23.3260, 22.6805, 23.0976, 22.4025, 22.1725,
]  # fmt: skip
SMA10_PUBLISHED = [
    22.22, 22.21, 22.23, 22.26, 22.31, 22.42, 22.61, 22.77, 22.91, 23.08, 23.21, 23.38, 23.53,
    23.65, 23.71, 23.69, 23.61, 23.51, 23.43, 23.28, 23.13,
]  # fmt: skip
EMA10_PUBLISHED = [
    22.22, 22.21, 22.24, 22.27, 22.33, 22.52, 22.80, 22.97, 23.13, 23.28, 23.34, 23.43, 23.51,
    23.54, 23.47, 23.40, 23.39, 23.26, 23.23, 23.08, 22.92,
]  # fmt: skip
BB_CLOSES = [
    86.1557, 89.0867, 88.7829, 90.3228, 89.0671, 91.1453, 89.4397, 89.1750, 86.9302, 87.6752,
    86.9596, 89.4299, 89.3221, 88.7241, 87.4497, 87.2634, 89.4985, 87.9006, 89.1260, 90.7043,
    92.9001, 92.9784, 91.8021, 92.6647, 92.6843, 92.3021, 92.7725, 92.5373, 92.9490, 93.2039,
    91.0669, 89.8318, 89.7435, 90.3994, 90.7387, 88.0177, 88.0867, 88.8439, 90.7781, 90.5416,
    91.3894, 90.6500,
]  # fmt: skip
BB_MIDDLE_PUBLISHED = [
    88.71, 89.05, 89.24, 89.39, 89.51, 89.69, 89.75, 89.91, 90.08, 90.38, 90.66, 90.86, 90.88,
    90.91, 90.99, 91.15, 91.19, 91.12, 91.17, 91.25, 91.24, 91.17, 91.05,
]  # fmt: skip


def series(values: list[float]) -> pd.Series:
    return pd.Series(values, dtype="float64")


def defined(values: pd.Series) -> list[float]:
    return [round(float(v), 2) for v in values.dropna()]


def test_rsi_matches_the_stockcharts_worked_example() -> None:
    rsi = ind.rsi(series(RSI_CLOSES), 14)
    assert rsi.iloc[:14].isna().all()  # 14 changes are needed: the first value is on day 15
    assert defined(rsi) == RSI_PUBLISHED


def test_rsi_first_value_by_hand() -> None:
    """Wilder's seed: the simple means of the first 14 gains and losses."""
    changes = np.diff(RSI_CLOSES[:15])
    gain = changes[changes > 0].sum() / 14
    loss = -changes[changes < 0].sum() / 14
    expected = 100 - 100 / (1 + gain / loss)
    assert ind.rsi(series(RSI_CLOSES[:15])).iloc[14] == pytest.approx(expected, rel=1e-12)
    # The next value uses Wilder's smoothing, not a new simple mean.
    nxt = RSI_CLOSES[15] - RSI_CLOSES[14]
    gain2 = (gain * 13 + max(nxt, 0)) / 14
    loss2 = (loss * 13 + max(-nxt, 0)) / 14
    expected2 = 100 - 100 / (1 + gain2 / loss2)
    assert ind.rsi(series(RSI_CLOSES[:16])).iloc[15] == pytest.approx(expected2, rel=1e-12)


def test_rsi_edges() -> None:
    rising = series([float(i) for i in range(1, 31)])
    assert ind.rsi(rising).iloc[-1] == 100.0
    assert ind.rsi(series(list(reversed(rising)))).iloc[-1] == 0.0
    assert ind.rsi(series([10.0] * 30)).iloc[-1] == 50.0
    seesaw = series([10.0 + (i % 2) for i in range(15)])  # +1, -1, ...: 7 gains, 7 losses
    assert ind.rsi(seesaw).iloc[14] == pytest.approx(50.0)
    assert ind.rsi(series(RSI_CLOSES[:14])).isna().all()


def test_sma_and_ema_match_the_stockcharts_worked_example() -> None:
    closes = series(MA_CLOSES)
    assert defined(ind.sma(closes, 10)) == SMA10_PUBLISHED
    ema = ind.ema(closes, 10)
    assert ema.iloc[:9].isna().all()
    assert ema.iloc[9] == pytest.approx(sum(MA_CLOSES[:10]) / 10)  # seeded with the SMA
    assert defined(ema) == EMA10_PUBLISHED


def test_ema_recursion_by_hand() -> None:
    ema = ind.ema(series([1.0, 2.0, 3.0, 4.0, 5.0, 10.0]), 3)
    # alpha = 2/(3+1) = 0.5; seed = mean(1, 2, 3) = 2 at the third value.
    assert ema.iloc[:2].isna().all()
    assert ema.iloc[2:].tolist() == [2.0, 3.0, 4.0, 7.0]


def test_bollinger_matches_the_stockcharts_worked_example() -> None:
    closes = series(BB_CLOSES)
    middle, upper, lower = ind.bollinger(closes)
    assert defined(middle) == BB_MIDDLE_PUBLISHED
    assert (defined(upper)[0], defined(lower)[0]) == (91.29, 86.12)
    for end in range(20, len(BB_CLOSES) + 1):
        window = BB_CLOSES[end - 20 : end]
        sigma = statistics.pstdev(window)  # population sigma, as Bollinger specifies
        assert upper.iloc[end - 1] == pytest.approx(statistics.fmean(window) + 2 * sigma)
        assert lower.iloc[end - 1] == pytest.approx(statistics.fmean(window) - 2 * sigma)


def test_macd_on_a_straight_line_by_hand() -> None:
    """On close = 100 + 0.5 t an SMA-seeded EMA n lags by exactly 0.5 (n - 1) / 2, so
    MACD = 0.5 * (25 - 11) / 2 = 3.5 from day 26, the signal is 3.5, the histogram 0."""
    closes = series([100 + 0.5 * t for t in range(60)])
    ema12, ema26 = ind.ema(closes, 12), ind.ema(closes, 26)
    assert (closes - ema12).dropna().tolist() == pytest.approx([2.75] * 49)
    assert (closes - ema26).dropna().tolist() == pytest.approx([6.25] * 35)
    line, signal, hist = ind.macd(closes)
    assert line.iloc[:25].isna().all() and line.iloc[25:].tolist() == pytest.approx([3.5] * 35)
    assert signal.iloc[:33].isna().all() and signal.iloc[33:].tolist() == pytest.approx([3.5] * 27)
    assert hist.dropna().tolist() == pytest.approx([0.0] * 27, abs=1e-9)


def reference_ema(values: list[float], span: int) -> list[float | None]:
    """An independent, loop-based EMA: SMA seed, then alpha * x + (1 - alpha) * previous."""
    alpha = 2 / (span + 1)
    out: list[float | None] = [None] * len(values)
    if len(values) < span:
        return out
    prev = sum(values[:span]) / span
    out[span - 1] = prev
    for i in range(span, len(values)):
        prev = alpha * values[i] + (1 - alpha) * prev
        out[i] = prev
    return out


def test_macd_matches_a_loop_reference() -> None:
    closes = BB_CLOSES + RSI_CLOSES  # 75 closes of two worked examples
    fast, slow = reference_ema(closes, 12), reference_ema(closes, 26)
    defined_line = [
        f - s for f, s in zip(fast, slow, strict=True) if f is not None and s is not None
    ]
    signal_ref = reference_ema(defined_line, 9)
    line, signal, hist = ind.macd(series(closes))
    assert line.dropna().tolist() == pytest.approx(defined_line)
    expected_signal = [v for v in signal_ref if v is not None]
    assert signal.dropna().tolist() == pytest.approx(expected_signal)
    assert signal.first_valid_index() == 33
    assert hist.dropna().tolist() == pytest.approx(
        [m - s for m, s in zip(defined_line[8:], expected_signal, strict=True)]
    )


def test_returns_and_volatility_are_fractions() -> None:
    closes = [100.0]
    for i in range(25):
        closes.append(closes[-1] * (1.01 if i % 2 == 0 else 0.98))
    frame = ind.indicators(series(closes))
    assert math.isnan(frame["daily_return"].iloc[0])
    assert frame["daily_return"].iloc[1] == pytest.approx(0.01)
    assert frame["daily_return"].iloc[2] == pytest.approx(-0.02)
    returns = [closes[i] / closes[i - 1] - 1 for i in range(1, len(closes))]
    assert frame["volatility_20"].iloc[20] == pytest.approx(statistics.stdev(returns[:20]))
    assert frame["volatility_20"].iloc[-1] == pytest.approx(statistics.stdev(returns[-20:]))
    assert frame["volatility_20"].iloc[:20].isna().all()
    assert frame["volatility_20"].dropna().max() < 0.05  # a fraction, not a percentage


def test_every_indicator_column_is_computed() -> None:
    frame = ind.indicators(series(BB_CLOSES + RSI_CLOSES))
    assert tuple(frame.columns) == ind.INDICATOR_COLUMNS
    assert frame.iloc[-1].notna().all()  # 75 closes are enough for every indicator


def bars(symbol: str, closes: list[float], start: str = "2026-01-01") -> pd.DataFrame:
    days = pd.bdate_range(start, periods=len(closes)).date
    return pd.DataFrame({"symbol": symbol, "day": days, "close": closes})


def test_symbols_interleaved_give_the_same_values_as_each_alone() -> None:
    a = bars("AAA", BB_CLOSES)
    b = bars("BBB", RSI_CLOSES + RSI_CLOSES[:9])
    mixed = pd.concat([a, b]).sample(frac=1.0, random_state=3)  # shuffled, interleaved
    together = ind.per_symbol(mixed).set_index(["symbol", "day"]).sort_index()
    for alone in (ind.per_symbol(a), ind.per_symbol(b)):
        expected = alone.set_index(["symbol", "day"])
        got = together.loc[expected.index]
        pd.testing.assert_frame_equal(got, expected)
    rsi_b = together.loc["BBB", "rsi_14"].dropna().round(2).tolist()
    assert rsi_b[: len(RSI_PUBLISHED)] == RSI_PUBLISHED


def test_duplicate_days_are_refused() -> None:
    twice = pd.concat([bars("AAA", [1.0, 2.0]), bars("AAA", [3.0])])
    with pytest.raises(ValueError, match="more than one row"):
        ind.per_symbol(twice)


def test_no_bars_give_an_empty_frame_with_every_column() -> None:
    empty = ind.per_symbol(pd.DataFrame({"symbol": [], "day": [], "close": []}))
    assert len(empty) == 0 and set(ind.INDICATOR_COLUMNS) <= set(empty.columns)


def test_each_indicator_has_a_value_from_the_bar_its_quality_counts_it_due() -> None:
    """`bars.WARMUP` (where completeness expects a value) is where each indicator starts."""
    from bucketpipe.catalog.datasets.bars import DAILY_INDICATORS, WARMUP

    closes = pd.Series(100 + np.cumsum(np.random.default_rng(3).normal(0, 1, 80)))
    frame = ind.indicators(closes)
    assert set(WARMUP) == set(ind.INDICATOR_COLUMNS)
    for name, bar in WARMUP.items():
        filled = frame[name].notna().to_numpy()
        assert not filled[: bar - 1].any() and filled[bar - 1 :].all(), name
    assert set(DAILY_INDICATORS.due) == set(WARMUP)
