"""The dashboard's figures: colours by direction, indicator overlays, helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from bucketpipe.app import charts, marketcharts, plots, runcharts, ui
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


def test_a_bar_or_quote_on_a_weekend_is_not_cut_out_of_its_axis() -> None:
    """Daily charts have a slot per day with a bar, whatever its weekday; the intraday axis
    leaves weekends out, but not when a quote falls on one (a single bar dated on a Sunday
    was hidden, and its chart drew an empty axis over the year 2000)."""
    sunday = pd.DataFrame(
        {"day": [date(2026, 12, 6)], "open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5]}
    )
    weekdays = sunday.assign(day=[date(2026, 12, 4)])  # a Friday
    for bars, key in ((sunday, "2026-12-06"), (weekdays, "2026-12-04")):
        ind = pd.DataFrame({"day": bars["day"], "rsi_14": [50.0], "macd": [0.1]})
        ind = ind.assign(macd_signal=[0.05], macd_hist=[0.05])
        for fig in (
            charts.price(bars, ind, [], bollinger=False),
            charts.rsi(ind),
            charts.macd(ind),
        ):
            assert fig.layout.xaxis.type == "category"
            assert list(fig.layout.xaxis.categoryarray) == [key]
            assert list(fig.data[0].x) == [key]
            assert not fig.layout.xaxis.rangebreaks
    quotes = pd.DataFrame(
        {"ts": pd.to_datetime(["2026-12-06 22:10", "2026-12-06 22:11"], utc=True), "price": [1, 2]}
    )
    assert not any(
        b.bounds == ("sat", "mon") for b in charts.intraday(quotes).layout.xaxis.rangebreaks
    )
    assert charts.weekend_breaks(quotes["ts"]) == []
    # One day: the axis is labelled with that day, not with fractions of a second. Lines
    # without a value in the range (indicators before their window fills) get no legend entry.
    bars = weekdays.assign(volume=[100])
    ind = pd.DataFrame({"day": bars["day"], "sma_20": [None], "bb_upper": [None]})
    ind = ind.assign(bb_lower=[None], bb_middle=[None], ema_12=[1.2])
    fig = charts.price(bars, ind, ["SMA 20", "EMA 12"], bollinger=True)
    assert [t.name for t in fig.data] == ["Price", "EMA 12", "Volume"]
    assert fig.layout.xaxis.ticktext == ("Dec 4<br>2026",)
    assert list(fig.layout.xaxis.tickvals) == ["2026-12-04"]


def test_bars_across_a_weekend_each_stand_in_their_own_day() -> None:
    """A Friday and a Monday: two neighbouring slots, the candle, its volume and the
    indicators of a day in the same one, ticks naming days (no hours on a short range)."""
    days = [date(2026, 11, 27), date(2026, 11, 30)]
    bars = pd.DataFrame(
        {
            "day": days,
            "open": [10.0, 12.0],
            "high": [12.5, 12.5],
            "low": [9.5, 10.5],
            "close": [12.0, 11.0],
            "volume": [100, 200],
        }
    )
    ind = pd.DataFrame(
        {"day": days, "sma_20": [11.0, 11.5], "rsi_14": [55.0, 52.0], "macd": [0.2, 0.1]}
    )
    ind = ind.assign(macd_signal=[0.1, 0.1], macd_hist=[0.1, 0.0])
    keys = ["2026-11-27", "2026-11-30"]
    price = charts.price(bars, ind, ["SMA 20"], bollinger=False)
    assert [list(trace.x) for trace in price.data] == [keys, keys, keys]
    for fig in (price, charts.rsi(ind), charts.macd(ind)):
        assert list(fig.layout.xaxis.categoryarray) == keys
        assert list(fig.layout.xaxis.ticktext) == ["Nov 27<br>2026", "Nov 30"]
    # A year: month ticks, at most twelve, the year under the first of a new year.
    year = pd.Series(pd.bdate_range("2025-06-02", "2026-06-01").date)
    fig = charts.rsi(pd.DataFrame({"day": year, "rsi_14": 50.0}))
    labels = list(fig.layout.xaxis.ticktext)
    assert 6 <= len(labels) <= 12
    assert labels[0] == "Jun<br>2025" and sum("<br>2026" in label for label in labels) == 1
    assert all(str(v).endswith(("-01", "-02", "-03")) for v in fig.layout.xaxis.tickvals)


def test_ordinals() -> None:
    assert ui.ordinal(1) == "1st" and ui.ordinal(12) == "12th" and ui.ordinal(21) == "21st"
    assert [ui.ordinal(n) for n in (2, 3, 13, 15, 22, 34, 111)] == [
        "2nd",
        "3rd",
        "13th",
        "15th",
        "22nd",
        "34th",
        "111th",
    ]


def test_change_bars_green_up_red_down() -> None:
    latest = pd.DataFrame({"symbol": ["A", "B", "C"], "change_pct": [1.5, -2.0, 0.0]})
    chart = marketcharts.change_bars(latest)
    data = chart.data
    assert dict(zip(data["symbol"], data["colour"], strict=True)) == {
        "A": ui.UP,
        "B": ui.DOWN,
        "C": ui.FLAT,
    }
    assert list(data["label"]) == ["\u22122.00 %", "+0.00 %", "+1.50 %"]  # the lists' minus
    # The largest gain on top: the symbol axis runs from the highest change down.
    spec = chart.to_dict()  # validated against the Vega-Lite schema
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["A", "C", "B"]
    # Each value sits at the zero line on the side its bar leaves empty (a gain's label left
    # of zero, a loss's right of it), so no label depends on the room past the longest bar.
    up, down = spec["layer"][1], spec["layer"][2]
    assert up["transform"] == [{"filter": "datum.change_pct >= 0"}]
    assert (up["mark"]["align"], up["mark"]["dx"]) == ("right", -4)
    assert (down["mark"]["align"], down["mark"]["dx"]) == ("left", 4)
    assert up["encoding"]["x"] == down["encoding"]["x"] == {"datum": 0}
    assert spec["padding"]["right"] >= 10  # the axis's last label, flush with the plot's end


def test_volume_axis_has_room_for_its_top_label() -> None:
    # A 12 px label centred on a tick at the plot's top edge reaches 6-7 px above it.
    data = pd.DataFrame({"symbol": ["A", "B"], "volume": [40_000_000, 3_000_000]})
    spec = marketcharts.volume_bars(data).to_dict()
    assert spec["padding"]["top"] >= 8


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


def test_counts_take_the_noun_in_the_right_number() -> None:
    assert (ui.plural(1, "row"), ui.plural(0, "row"), ui.plural(1_050, "file")) == (
        "1 row",
        "0 rows",
        "1,050 files",
    )


def test_the_change_chart_draws_the_largest_moves_of_a_long_list() -> None:
    changes = [float(v) for v in range(-250, 250)]
    latest = pd.DataFrame({"symbol": [f"S{i}" for i in range(500)], "change_pct": changes})
    latest.loc[250, "change_pct"] = None  # no change known: not drawn
    moves = market.largest_moves(latest, 15)
    assert sorted(moves["change_pct"]) == [*range(-250, -235), *range(235, 250)]
    chart = marketcharts.change_bars(moves)
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
    spec = marketcharts.sentiment_pie(counts).to_dict()
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == ["bullish", "strong bearish"]
    assert scale["range"] == [
        ui.SENTIMENT_COLOURS["bullish"],
        ui.SENTIMENT_COLOURS["strong bearish"],
    ]
    # The hole scales with the ring: a fixed one left a hairline in a narrow column.
    assert spec["mark"]["innerRadius"] == {"expr": "min(width, height) / 4"}


def test_a_quarter_without_an_estimate_is_neither_a_beat_nor_a_miss() -> None:
    quarters = pd.DataFrame(
        {
            "period": [date(2024, 12, 31), date(2025, 3, 31), date(2025, 6, 30)],
            "actual": [2.2308, 1.60, 1.42],
            "estimate": [None, 1.55, 1.4241],
            "surprise": [None, 0.05, -0.0041],
            "surprise_pct": [None, 3.2258, -0.2879],
        }
    )
    actual = charts.earnings(quarters).data[1]
    assert list(actual.marker.color) == [ui.FLAT, ui.UP, ui.DOWN]
    assert list(actual.text) == [
        "Actual 2.23<br>no estimate",
        "Actual 1.60<br>Surprise +0.05 (+3.2 %)",
        "Actual 1.42<br>Surprise -0.0041 (-0.3 %)",
    ]


@pytest.mark.parametrize(("top", "step"), [(0, 1), (2, 1), (7, 2), (48, 10), (1_050_000, 500_000)])
def test_count_axes_tick_in_whole_numbers(top: int, step: int) -> None:
    ticks = plots.integer_ticks(np.int64(top))
    assert (ticks["dtick"], ticks["tick0"], ticks["tickformat"]) == (step, 0, ",d")


def test_a_count_series_gets_whole_number_ticks_a_measure_does_not() -> None:
    days = pd.date_range("2026-11-01", periods=3, freq="D", tz="UTC")
    counts = pd.DataFrame({"bucket": days, "value": [1, 2, 1]})
    fig = plots.lines(counts, "bucket", "value", None, "Rows")
    assert (fig.layout.yaxis.dtick, fig.layout.yaxis.tickformat) == (1, ",d")
    means = counts.assign(value=[0.5, 1.25, 2.0])
    assert plots.lines(means, "bucket", "value", None, "Mean").layout.yaxis.dtick is None
    top = pd.DataFrame({"value": ["AAPL", "MSFT"], "rows": [2, 1]})
    bars = plots.bars(top, "value", "rows", horizontal=True, titles=("Symbol", "Rows"))
    assert bars.layout.xaxis.dtick == 1
    hist = plots.histogram(pd.DataFrame({"x": [0.1, 0.2, 0.2, 0.9]}), "x", "Daily return %")
    assert hist.layout.yaxis.dtick == 1 and hist.layout.xaxis.title.text == "Daily return %"


def test_a_count_heatmap_shows_whole_numbers() -> None:
    matrix = pd.DataFrame([[1, 1], [1, None]], index=["AAPL", "MSFT"], columns=["d1", "d2"])
    fig = plots.heatmap(matrix, "Rows", None, ("Day", "Symbol"), measure="rows", counts=True)
    bar = fig.layout.coloraxis.colorbar
    assert (bar.dtick, bar.tickformat, bar.title.text) == (1, ",d", "rows")
    assert fig.layout.coloraxis.cmin == 0  # all ones: 0 to 1, not 0.5 to 1.5
    assert fig.data[0].texttemplate == "%{z:,d}"
    spec = runcharts.count_bars(
        pd.DataFrame({"reason": ["late", "bad"], "rows": [2, 1]}), "reason", "rows", ui.DOWN, "Rows"
    ).to_dict()
    assert spec["encoding"]["x"]["axis"] == {"format": ",d", "tickMinStep": 1}


def test_a_measure_heatmap_tells_close_values_apart() -> None:
    """Means of 3.485 to 3.497 read as such, not all as 3.49; a correlation keeps 2 decimals."""
    matrix = pd.DataFrame([[3.4851, 3.4969], [12345.6, None]], index=["a", "b"], columns=["x", "y"])
    fig = plots.heatmap(matrix, "Mean", None, ("Status", "Sensor"), measure="mean of battery")
    assert fig.data[0].texttemplate == "%{z:,.4~r}"  # 3.485, 3.497, 12,350
    assert plots.heatmap(matrix, "Correlation").data[0].texttemplate == "%{z:.2f}"


def test_analyst_counts_tick_in_whole_numbers() -> None:
    rec = pd.DataFrame({"period": ["2026-10-01", "2026-11-01"], "buy": [1, 2], "hold": [0, 1]})
    assert charts.recommendations(rec).layout.yaxis.dtick == 1


def test_time_axis_titles_name_the_unit_once() -> None:
    assert plots.time_title("Day", "day", utc=False) == "Day"
    assert plots.time_title("Day", "week", utc=False) == "Day (per week)"
    assert plots.time_title("Time", "hour") == "Time (per hour, UTC)"


@pytest.mark.parametrize(
    ("slope", "per", "shown"),
    [
        (8.26e-05, "volume", "+0.0826 per 1,000 volume"),
        (-2.0, "price", "\u22122 per price"),
        (0.5, "day", "+0.5 per day"),
        (12345.6, "day", "+12,346 per day"),
        (3e-9, "x", "+3 per 1,000,000,000 x"),
        (0.0, "x", "0 per x"),
    ],
)
def test_a_slope_reads_without_exponents(slope: float, per: str, shown: str) -> None:
    assert ui.rate(slope, per) == shown


def test_a_trend_over_time_is_per_day() -> None:
    times = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-03"], utc=True))
    figure = plots.scatter(
        pd.DataFrame({"t": times, "v": [1.0, 5.0]}), "t", "v", None, True, {"t": "Time"}
    )
    assert figure.data[-1].name == "trend (+2 per day)"


def test_the_sentiment_score_axis_has_round_ticks_over_its_whole_scale() -> None:
    times = pd.Series(pd.to_datetime(["2026-12-01", "2026-12-02"], utc=True))
    data = pd.DataFrame({"at_time": times, "source": "reddit", "mention": [3, 5]})
    figure = charts.social(data.assign(score=[-0.4, 0.9]))
    axis = figure.layout.yaxis2
    assert list(axis.tickvals) == [-1, -0.5, 0, 0.5, 1]
    assert list(axis.ticktext) == ["\u22121", "\u22120.5", "0", "0.5", "1"]
    assert axis.range[0] <= -1 and axis.range[1] >= 1


def test_a_moment_is_written_to_the_precision_it_holds() -> None:
    helsinki = timezone(timedelta(hours=2))
    assert ui.moment(datetime(2026, 11, 9, 16, 30, tzinfo=helsinki)) == "2026-11-09 14:30 UTC"
    assert ui.moment(datetime(2026, 11, 9, 14, 30, 5, tzinfo=UTC)) == "2026-11-09 14:30:05 UTC"
    # A fraction is kept (the tile states the column's true minimum), and a time without a
    # zone is not called UTC.
    assert ui.moment(datetime(2026, 11, 9, 14, 30, 0, 250_000)) == "2026-11-09 14:30:00.250000"
    assert ui.when(datetime(2026, 11, 9, 16, 30, tzinfo=helsinki)) == "2026-11-09 14:30 UTC"
    assert ui.when(datetime(2026, 11, 9, 14, 30)) == "2026-11-09 14:30"  # a generic file's
    # A time axis says UTC for a time with a zone, not for a zone-less one.
    assert plots.time_title("Measured at", "day", utc=False) == "Measured at (per day)"


def test_an_age_ahead_of_the_clock_says_so() -> None:
    """A newest row dated ahead of the clock (a time-zone mistake in a file) is not 'just now'."""
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert ui.age(now - timedelta(seconds=30), now) == "just now"
    assert ui.age(now + timedelta(seconds=30), now) == "just now"  # clocks a little apart
    assert ui.age(now - timedelta(minutes=5), now) == "5 min ago"
    assert ui.age(now - timedelta(hours=3, minutes=59), now) == "3 h ago"
    assert ui.age(now - timedelta(days=2), now) == "2 d ago"
    assert ui.age(now + timedelta(hours=1, minutes=48), now) == "in the future (1 h ahead)"
    assert ui.age(now + timedelta(minutes=2), now) == "in the future (2 min ahead)"
    assert ui.age(None, now) == "never"


def test_an_entity_keeps_its_colour_in_every_explore_chart() -> None:
    """The sample arrives in random order and the series by frequency: colours follow the
    values' sorted order in both, so MSFT is one colour everywhere; the pooled rest is grey."""
    sample = pd.DataFrame({"symbol": ["TSLA", "AAPL", "MSFT", "AAPL"], "price": [1.0, 2, 3, 4]})
    series = pd.DataFrame(
        {
            "day": pd.to_datetime(["2026-01-05"] * 3 + ["2026-01-06"] * 3),
            "symbol": ["MSFT", "others", "AAPL"] * 2,
            "n": [3, 9, 2, 4, 8, 1],
        }
    )

    def colours(fig: object) -> dict[str, str]:
        out = {}
        for trace in fig.data:  # type: ignore[attr-defined]
            colour = getattr(trace, "line", None) and trace.line.color
            out[trace.name] = colour or trace.marker.color
        return out

    box = colours(plots.distribution(sample, "price", "symbol", "box"))
    violin = plots.distribution(sample, "price", "symbol", "violin")
    lines = colours(plots.lines(series, "day", "n", "symbol", "Rows"))
    scatter = colours(plots.scatter(sample, "price", "price", "symbol", trend=False))
    assert box == {"AAPL": ui.PALETTE[0], "MSFT": ui.PALETTE[1], "TSLA": ui.PALETTE[2]}
    assert lines == {"AAPL": ui.PALETTE[0], "MSFT": ui.PALETTE[1], "others": ui.FLAT}
    assert scatter == box
    # A violin's density stops at the smallest and largest value (no tail below 0).
    assert {trace.spanmode for trace in violin.data} == {"hard"}


def test_a_series_has_every_bucket_so_a_weekend_is_not_joined_over() -> None:
    """Rows per day on Friday and Monday: the weekend counts 0 rows; a mean there is a gap
    (the line breaks), not a line from Friday to Monday."""
    friday, monday = pd.Timestamp("2026-01-02", tz="UTC"), pd.Timestamp("2026-01-05", tz="UTC")
    data = pd.DataFrame(
        {"bucket": [friday, monday, friday, monday], "group": ["A", "A", "B", "B"], "value": 1.0}
    )
    counted = plots.every_bucket(data, "bucket", "value", "group", "day", counts=True)
    assert len(counted) == 8 and counted["value"].tolist().count(0.0) == 4
    measured = plots.every_bucket(data, "bucket", "value", "group", "day", counts=False)
    assert measured["value"].isna().sum() == 4
    fig = plots.lines(data, "bucket", "value", "group", "Mean", bucket="day", counts=False)
    a = next(t for t in fig.data if t.name == "A")
    assert len(a.y) == 4 and sum(v != v for v in a.y) == 2  # Saturday and Sunday: gaps
    # Buckets off the steps (an unknown grid) are drawn as they are, not filled.
    odd = data.assign(bucket=data["bucket"] + pd.Timedelta(hours=5))
    assert len(plots.every_bucket(odd.iloc[[0, 1]], "bucket", "value", None, "week", True)) == 2


def test_the_first_bucket_a_window_starts_inside_is_shaded_as_partial() -> None:
    days = pd.date_range("2026-01-05", periods=3, freq="D", tz="UTC")
    data = pd.DataFrame({"bucket": days, "value": [40, 96, 96]})
    cut = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    fig = plots.lines(data, "bucket", "value", None, "Rows", bucket="day", counts=True, cut=cut)
    shapes = fig.layout.shapes
    assert len(shapes) == 1 and pd.Timestamp(shapes[0].x0) == days[0]
    assert [a.text for a in fig.layout.annotations] == ["partial day"]
    # A window starting on a bucket's first instant cuts nothing; a zone-less cut compares too.
    on_edge = plots.lines(data, "bucket", "value", None, "Rows", bucket="day", cut=days[0])
    naive = plots.lines(
        data, "bucket", "value", None, "Rows", bucket="day", cut=datetime(2026, 1, 5, 9)
    )
    assert not on_edge.layout.shapes and len(naive.layout.shapes) == 1


def test_daily_social_sentiment_is_ticked_in_days_hourly_in_time() -> None:
    """Finnhub's periods may be whole days (each at midnight): the axis then names days,
    not the hours between them; hourly periods keep a time axis."""
    days = pd.date_range("2026-11-30", periods=4, freq="D")
    daily = pd.DataFrame(
        {"at_time": list(days) * 2, "source": ["reddit"] * 4 + ["twitter"] * 4}
    ).assign(mention=[700, 390, 250, 320, 520, 720, 560, 350], score=0.2)
    fig = charts.social(daily)
    assert fig.layout.xaxis.type == "category"
    assert list(fig.layout.xaxis.categoryarray) == [f"{d:%Y-%m-%d}" for d in days]
    assert list(fig.data[0].x) == [f"{d:%Y-%m-%d}" for d in days]
    hourly = daily.assign(at_time=list(pd.date_range("2026-11-30 05:00", periods=8, freq="h")))
    assert charts.social(hourly).layout.xaxis.type != "category"


def test_a_pivot_by_day_gives_each_day_its_own_cell_and_long_labels_slant() -> None:
    """Friday and Monday are two cells side by side, not two cells stretched over the
    weekend of a date axis; a correlation matrix of long names slants them."""
    days = pd.DataFrame(
        [[1, 2], [3, 4]], index=["AAPL", "MSFT"], columns=["2026-11-27", "2026-11-30"]
    )
    fig = plots.heatmap(days, "Rows", None, ("Day", "Symbol"), counts=True)
    assert (fig.layout.xaxis.type, fig.layout.yaxis.type) == ("category", "category")
    assert fig.layout.xaxis.tickangle is None
    names = ["Temperature °C", "Battery V", "Pressure hPa"]
    matrix = pd.DataFrame(np.eye(3), index=names, columns=names)
    assert plots.heatmap(matrix, "Correlation (Pearson)").layout.xaxis.tickangle == -35


def test_rsi_levels_are_named_in_the_legend_not_under_the_line() -> None:
    """The 70 and 30 labels were annotations in the plot, where an RSI above 70 or below 30
    drew its line through them; now they are legend entries of the dashed level lines."""
    days = pd.Series(pd.bdate_range("2026-10-01", periods=40).date)
    values = [85.0 if i % 2 else 15.0 for i in range(40)]  # crossing both levels
    fig = charts.rsi(pd.DataFrame({"day": days, "rsi_14": values}))
    assert not fig.layout.annotations
    levels = {t.name: set(t.y) for t in fig.data if t.name != "RSI 14"}
    assert levels == {"70 overbought": {70}, "30 oversold": {30}}
    assert all(t.hoverinfo == "skip" and t.showlegend is not False for t in fig.data[1:])
    assert fig.data[0].showlegend is False  # the chart's title names the RSI line
    assert list(fig.data[1].x) == list(fig.data[0].x)
