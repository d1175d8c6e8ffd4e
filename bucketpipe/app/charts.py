"""Charts of the stock page, built from query results, in Plotly (the overview's are
Vega-Lite: `marketcharts`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bucketpipe.app.dayaxis import day_axis, day_keys
from bucketpipe.app.plots import integer_ticks, integral, layout
from bucketpipe.app.ui import ACCENT, DOWN, FLAT, MISSING, PALETTE, UP

OVERLAYS = {
    "SMA 5": ("sma_5", "#a855f7", "solid"),
    "SMA 20": ("sma_20", "#f59e0b", "solid"),
    "SMA 50": ("sma_50", "#0ea5e9", "solid"),
    "EMA 12": ("ema_12", "#ec4899", "dot"),
    "EMA 26": ("ema_26", "#14b8a6", "dot"),
}
RECOMMENDATION_COLOURS = {
    "strong_buy": "#15803d",
    "buy": "#4ade80",
    "hold": "#facc15",
    "sell": "#f87171",
    "strong_sell": "#b91c1c",
}


def price(
    bars: pd.DataFrame, ind: pd.DataFrame, overlays: Iterable[str], bollinger: bool
) -> go.Figure:
    """Candlesticks of the daily bars with indicator overlays, volume below when known."""
    has_volume = "volume" in bars and bars["volume"].notna().any()
    rows = 2 if has_volume else 1
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.75, 0.25] if has_volume else [1.0],
    )
    fig.add_trace(
        go.Candlestick(
            x=day_keys(bars["day"]),
            open=bars["open"],
            high=bars["high"],
            low=bars["low"],
            close=bars["close"],
            name="Price",
            increasing_line_color=UP,
            decreasing_line_color=DOWN,
        ),
        row=1,
        col=1,
    )
    # A line without a value in the range (an indicator before its window fills) gets no
    # legend entry: the legend names only what is drawn.
    if bollinger and drawn(ind, "bb_upper", "bb_lower", "bb_middle"):
        band = {"width": 1, "color": "rgba(100,116,139,0.7)"}
        fig.add_trace(
            go.Scatter(
                x=day_keys(ind["day"]), y=ind["bb_upper"], name="Bollinger upper", line=band
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=day_keys(ind["day"]),
                y=ind["bb_lower"],
                name="Bollinger lower",
                line=band,
                fill="tonexty",
                fillcolor="rgba(100,116,139,0.12)",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=day_keys(ind["day"]),
                y=ind["bb_middle"],
                name="Bollinger middle (SMA 20)",
                line={"width": 1, "dash": "dash", "color": FLAT},
            ),
            row=1,
            col=1,
        )
    for label in overlays:
        column, colour, dash = OVERLAYS[label]
        if drawn(ind, column):
            fig.add_trace(
                go.Scatter(
                    x=day_keys(ind["day"]),
                    y=ind[column],
                    name=label,
                    line={"width": 1.6, "color": colour, "dash": dash},
                ),
                row=1,
                col=1,
            )
    if has_volume:
        colours = [UP if c >= o else DOWN for o, c in zip(bars["open"], bars["close"], strict=True)]
        fig.add_trace(
            go.Bar(x=day_keys(bars["day"]), y=bars["volume"], name="Volume", marker_color=colours),
            row=2,
            col=1,
        )
        fig.update_yaxes(title_text="Volume", row=2, col=1)
    fig.update_yaxes(title_text="Price", row=1, col=1)
    fig.update_xaxes(rangeslider_visible=False)
    day_axis(fig, bars["day"], ind.get("day"))
    return layout(fig, 520 if has_volume else 440)


def drawn(frame: pd.DataFrame, *columns: str) -> bool:
    """Whether the columns are there and the first has a value to draw."""
    return all(c in frame for c in columns) and bool(frame[columns[0]].notna().any())


def rsi(ind: pd.DataFrame) -> go.Figure:
    """RSI 14 with the 30 (oversold) and 70 (overbought) lines, named in the legend: a label
    drawn in the plot sat under the line whenever the RSI crossed it."""
    days = day_keys(ind["day"])
    # The chart's title names the RSI line: the legend is for the levels.
    fig = go.Figure(
        go.Scatter(x=days, y=ind["rsi_14"], name="RSI 14", line={"color": ACCENT}, showlegend=False)
    )
    fig.add_hrect(y0=30, y1=70, fillcolor="rgba(100,116,139,0.08)", line_width=0)
    for level, name, colour in ((70, "70 overbought", DOWN), (30, "30 oversold", UP)):
        fig.add_trace(
            go.Scatter(
                x=days,
                y=[level] * len(days),
                name=name,
                mode="lines",
                line={"color": colour, "dash": "dash", "width": 1.2},
                hoverinfo="skip",
            )
        )
    fig.update_yaxes(range=[0, 100], title_text="RSI", tickvals=[0, 30, 50, 70, 100])
    day_axis(fig, ind["day"])
    return layout(fig, 260)


def macd(ind: pd.DataFrame) -> go.Figure:
    """MACD (12/26) with its 9-day signal and the histogram (green above, red below zero)."""
    hist = ind["macd_hist"].fillna(0)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=day_keys(ind["day"]),
            y=ind["macd_hist"],
            name="Histogram",
            marker_color=[UP if v >= 0 else DOWN for v in hist],
        )
    )
    fig.add_trace(
        go.Scatter(x=day_keys(ind["day"]), y=ind["macd"], name="MACD", line={"color": ACCENT})
    )
    fig.add_trace(
        go.Scatter(
            x=day_keys(ind["day"]), y=ind["macd_signal"], name="Signal", line={"color": "#f59e0b"}
        )
    )
    day_axis(fig, ind["day"])
    fig.update_yaxes(title_text="MACD (price units)")
    return layout(fig, 260)


def intraday(quotes: pd.DataFrame) -> go.Figure:
    """Every quote snapshot's price; nights and weekends without quotes are left out."""
    fig = go.Figure(
        go.Scatter(x=quotes["ts"], y=quotes["price"], name="Price", line={"color": ACCENT})
    )
    fig.update_yaxes(title_text="Price")
    breaks = weekend_breaks(quotes["ts"])
    session = trading_hours(quotes["ts"])
    if session is not None:
        breaks.append({"bounds": [session[1], session[0]], "pattern": "hour"})
    fig.update_xaxes(rangebreaks=breaks)
    return layout(fig, 300)


def weekend_breaks(times: pd.Series) -> list[dict[str, object]]:
    """Weekends left out of a time axis, unless a value falls on one: the axis would hide it
    (a quote a test server dated on a Sunday drew an empty chart over the year 2000)."""
    stamps = pd.to_datetime(times, utc=True, errors="coerce").dropna()
    if (stamps.dt.day_of_week >= 5).any():
        return []
    return [{"bounds": ["sat", "mon"]}]


def trading_hours(times: pd.Series) -> tuple[float, float] | None:
    """(first, last) hour of the day with quotes, padded; None when quotes span the day."""
    stamps = pd.to_datetime(times, utc=True).dropna()
    if stamps.empty:
        return None
    hours = stamps.dt.hour + stamps.dt.minute / 60
    first, last = float(hours.min()), float(hours.max())
    if last - first > 20:
        return None
    return max(0.0, first - 0.25), min(24.0, last + 0.25)


def recommendations(rec: pd.DataFrame) -> go.Figure:
    """Analyst counts per month, stacked from strong buy to strong sell."""
    fig = go.Figure()
    for column, colour in RECOMMENDATION_COLOURS.items():
        if column in rec:
            fig.add_trace(
                go.Bar(
                    x=rec["period"],
                    y=rec[column],
                    name=column.replace("_", " ").capitalize(),
                    marker_color=colour,
                )
            )
    fig.update_layout(barmode="stack")
    stacked = rec[[c for c in RECOMMENDATION_COLOURS if c in rec]].sum(axis=1)
    fig.update_yaxes(title_text="Analysts", **integer_ticks(stacked.max() if len(stacked) else 0))
    return layout(fig, 300)


def earnings(e: pd.DataFrame) -> go.Figure:
    """EPS actual vs estimate per quarter; markers coloured by beat (green) or miss (red),
    grey where the quarter had no estimate to beat or miss."""
    label = e["period"].astype(str)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=label,
            y=e["estimate"],
            name="Estimate",
            mode="markers",
            marker={"size": 14, "color": "rgba(100,116,139,0.35)", "line": {"color": FLAT}},
        )
    )
    judged = e["actual"].notna() & e["estimate"].notna()
    beat = e["actual"] >= e["estimate"]
    colours = [(UP if b else DOWN) if j else FLAT for j, b in zip(judged, beat, strict=True)]
    fig.add_trace(
        go.Scatter(
            x=label,
            y=e["actual"],
            name="Actual (green beat, red missed the estimate)",
            mode="markers",
            marker={"size": 11, "color": colours},
            text=[earnings_hover(row) for row in e.to_dict("records")],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="EPS")
    return layout(fig, 300, hovermode="closest")


def earnings_hover(row: Mapping[Any, Any]) -> str:
    """`Actual 2.23<br>Surprise +0.04 (+1.8 %)`, or `no estimate` where there was none."""
    actual = row.get("actual")
    text = f"Actual {MISSING}" if pd.isna(actual) else f"Actual {actual:.2f}"
    surprise, pct = row.get("surprise"), row.get("surprise_pct")
    if pd.isna(row.get("estimate")):
        return f"{text}<br>no estimate"
    if surprise is None or pd.isna(surprise):
        return text
    # A surprise under half a cent keeps its digits instead of reading as +0.00.
    shown = f"{surprise:+.2f}" if abs(surprise) >= 0.005 or surprise == 0 else f"{surprise:+.4f}"
    text += f"<br>Surprise {shown}"
    return text if pct is None or pd.isna(pct) else f"{text} ({pct:+.1f} %)"


def social(s: pd.DataFrame) -> go.Figure:
    """Mentions per period (bars) and the sentiment score (line, right axis) per source.
    Periods that are whole days (every one at midnight) stand on a day axis, ticked in days,
    not in the hours between them."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    times = pd.to_datetime(s["at_time"], errors="coerce")
    daily = bool(len(times)) and bool((times.dropna() == times.dropna().dt.normalize()).all())
    for i, (source, part) in enumerate(s.groupby("source")):
        colour = PALETTE[i % len(PALETTE)]
        x = day_keys(part["at_time"]) if daily else part["at_time"]
        fig.add_trace(
            go.Bar(
                x=x,
                y=part["mention"],
                name=f"{str(source).capitalize()} mentions",
                marker_color=colour,
                opacity=0.45,
            ),
            secondary_y=False,
        )
        if "score" in part:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=part["score"],
                    name=f"{str(source).capitalize()} score",
                    line={"color": colour},
                ),
                secondary_y=True,
            )
    if daily:
        day_axis(fig, s["at_time"])
    mentions = s["mention"] if "mention" in s else pd.Series(dtype=float)
    ticks = integer_ticks(mentions.max()) if integral(mentions) else {}
    fig.update_yaxes(title_text="Mentions", secondary_y=False, **ticks)
    fig.update_yaxes(
        title_text="Score (\u22121..1)",
        range=[-1.05, 1.05],  # a little room, so that the ticks at \u00b11 show
        tickvals=[-1, -0.5, 0, 0.5, 1],
        ticktext=["\u22121", "\u22120.5", "0", "0.5", "1"],
        secondary_y=True,
    )
    return layout(fig, 300)
