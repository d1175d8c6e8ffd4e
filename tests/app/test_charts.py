"""The dashboard's figures: colours by direction, indicator overlays, helpers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bucketpipe.app import charts, plots, ui
from bucketpipe.serve.queries import market


def test_trend_line_is_least_squares() -> None:
    line = plots.trend_line(pd.Series([0, 1, 2, 3]), pd.Series([1.0, 3.0, 5.0, 7.0]))
    assert line is not None
    xs, ys, slope = line
    assert (xs, slope) == ([0.0, 3.0], pytest.approx(2.0))
    assert ys == pytest.approx([1.0, 7.0])
    assert plots.trend_line(pd.Series([1, 1]), pd.Series([2, 3])) is None


def test_trading_hours_pad_the_session() -> None:
    times = pd.Series(pd.to_datetime(["2026-01-05 14:30", "2026-01-05 21:00"], utc=True))
    assert charts.trading_hours(times) == (14.25, 21.25)
    around_the_clock = pd.Series(pd.date_range("2026-01-05", periods=24, freq="h", tz="UTC"))
    assert charts.trading_hours(around_the_clock) is None


def test_price_chart_colours_volume_by_direction() -> None:
    bars = pd.DataFrame(
        {
            "day": [date(2026, 1, 5), date(2026, 1, 6)],
            "open": [10.0, 12.0],
            "high": [12.5, 12.5],
            "low": [9.5, 10.5],
            "close": [12.0, 11.0],
            "volume": [100, 200],
        }
    )
    ind = pd.DataFrame({"day": bars["day"], "sma_20": [11.0, 11.5]})
    fig = charts.price(bars, ind, ["SMA 20", "SMA 50"], bollinger=True)
    names = [t.name for t in fig.data]
    assert names == ["Price", "SMA 20", "Volume"]  # no SMA 50 or bands without the columns
    assert list(fig.data[-1].marker.color) == [ui.UP, ui.DOWN]


def test_change_bars_green_up_red_down() -> None:
    latest = pd.DataFrame({"symbol": ["A", "B", "C"], "change_pct": [1.5, -2.0, 0.0]})
    chart = charts.change_bars(latest)
    data = chart.data
    assert dict(zip(data["symbol"], data["colour"], strict=True)) == {
        "A": ui.UP,
        "B": ui.DOWN,
        "C": ui.FLAT,
    }
    assert list(data["label"]) == ["-2.00 %", "+0.00 %", "+1.50 %"]
    # The largest gain on top: the symbol axis runs from the highest change down.
    spec = chart.to_dict()  # validated against the Vega-Lite schema
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["A", "C", "B"]


@pytest.mark.parametrize(
    ("value", "text"), [(1234.5, "+1,234.50 %"), (-0.4, "\u22120.40 %"), (None, ui.MISSING)]
)
def test_percent_uses_a_true_minus(value: float | None, text: str) -> None:
    assert ui.percent(value) == text


def test_metric_deltas_keep_an_ascii_sign() -> None:
    assert ui.delta(-0.49) == "-0.49 %"
    assert ui.delta(None) is None
    assert ui.compact(1_234_567) == "1.2 M"
    assert ui.size(2048) == "2.0 KB"


def test_the_change_chart_draws_the_largest_moves_of_a_long_list() -> None:
    changes = [float(v) for v in range(-250, 250)]
    latest = pd.DataFrame({"symbol": [f"S{i}" for i in range(500)], "change_pct": changes})
    latest.loc[250, "change_pct"] = None  # no change known: not drawn
    moves = market.largest_moves(latest, 15)
    assert sorted(moves["change_pct"]) == [*range(-250, -235), *range(235, 250)]
    chart = charts.change_bars(moves)
    assert len(chart.data) == 30 and chart.height <= 36 * 30
    # A short list is drawn whole, but for its symbols without a change.
    few = latest.iloc[240:260]
    assert list(market.largest_moves(few, 15)["symbol"]) == [
        s for s in few["symbol"] if s != "S250"
    ]


def test_the_breadth_ring_keeps_each_level_colour_and_leaves_out_empty_levels() -> None:
    counts = market.sentiment_counts(
        pd.DataFrame({"sentiment": ["bullish", "bullish", "strong bearish"]})
    )
    spec = charts.sentiment_pie(counts).to_dict()
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == ["bullish", "strong bearish"]
    assert scale["range"] == [
        ui.SENTIMENT_COLOURS["bullish"],
        ui.SENTIMENT_COLOURS["strong bearish"],
    ]
