"""The axis of the daily charts: one slot per market day that has a bar.

A time axis with the weekends cut out (Plotly's range breaks) put a bar's width on the real
gap: a Friday's candle spread into Monday's slot, a Monday's volume stood under "Dec 1", and a
range of two days was ticked in hours. A category axis of the days gives each bar and candle
its own day's slot, whatever the weekday (a bar a source dated on a Sunday included).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# From this many days on, the axis ticks months; below it, about six days (a phone fits six).
MONTHLY_TICKS_FROM = 60
MAX_TICKS = 6


def day_keys(days: pd.Series) -> list[str]:
    """Days as the keys of a day axis (`YYYY-MM-DD`; missing ones as '')."""
    stamps = pd.to_datetime(days, errors="coerce")
    return [f"{d:%Y-%m-%d}" if not pd.isna(d) else "" for d in stamps]


def day_axis(fig: go.Figure, *days: pd.Series | None) -> None:
    """`fig`'s x axis as the days of `days` (each series of a trace's days), in order. Ticks
    name days, with the year on the first and at a new year, or months on a long range."""
    keys = sorted({k for series in days if series is not None for k in day_keys(series)} - {""})
    ticks = day_ticks(keys)
    fig.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=keys,
        tickvals=ticks,
        ticktext=tick_labels(ticks, monthly=len(keys) > MONTHLY_TICKS_FROM),
        tickangle=0,
    )


def day_ticks(keys: list[str]) -> list[str]:
    """The days a day axis labels: about six evenly spaced, or each month's first day
    (every second or third month on a range of years)."""
    if len(keys) > MONTHLY_TICKS_FROM:
        firsts = [k for i, k in enumerate(keys) if i == 0 or k[:7] != keys[i - 1][:7]]
        return firsts[:: -(-len(firsts) // 12)]
    return keys[:: max(1, -(-len(keys) // MAX_TICKS))]


def tick_labels(ticks: list[str], *, monthly: bool) -> list[str]:
    """`Nov 27` (or `Nov` on a monthly axis), with the year under the first and under a new
    year's first tick."""
    labels = []
    for i, key in enumerate(ticks):
        day = pd.Timestamp(key)
        text = f"{day:%b}" if monthly else f"{day:%b} {day.day}"
        if i == 0 or key[:4] != ticks[i - 1][:4]:
            text += f"<br>{day:%Y}"
        labels.append(text)
    return labels
