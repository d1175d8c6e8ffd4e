"""Charts of the market overview, built from query results, in Vega-Lite (Altair): the
overview draws no Plotly chart, so a first visit does not load Plotly's script."""

from __future__ import annotations

import altair as alt
import pandas as pd

from bucketpipe.app.ui import ACCENT, COMPACT_UNITS, DOWN, FLAT, SENTIMENT_COLOURS, UP, percent


def change_bars(latest: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Change % per symbol, green up, red down, each value written on the empty side of the
    zero line, beside its bar's base: a row's bar fills one half, so the other half always
    has room for the label, at any width (written past the bar's end, a long label at the
    largest change ran off the chart on a phone)."""
    data = latest[["symbol", "change_pct"]].dropna().sort_values("change_pct")
    data = data.assign(
        colour=[UP if v > 0 else DOWN if v < 0 else FLAT for v in data["change_pct"]],
        label=[percent(v) for v in data["change_pct"]],
    )
    reach = float(data["change_pct"].abs().max() or 1) * 1.1 if len(data) else 1.0
    order = list(data["symbol"])[::-1]
    base = alt.Chart(data).encode(
        y=alt.Y("symbol:N", sort=order, title=None),
        x=alt.X(
            "change_pct:Q",
            title="Change since previous close (%)",
            scale=alt.Scale(domain=[-reach, reach]),
        ),
        tooltip=[
            alt.Tooltip("symbol:N", title="Symbol"),
            alt.Tooltip("change_pct:Q", title="Change %", format="+.2f"),
        ],
    )
    bars = base.mark_bar().encode(color=alt.Color("colour:N", scale=None))
    up = base.transform_filter("datum.change_pct >= 0").mark_text(align="right", dx=-4)
    down = base.transform_filter("datum.change_pct < 0").mark_text(align="left", dx=4)
    labels = [layer.encode(text="label:N", x=alt.datum(0)) for layer in (up, down)]
    # Room right of the plot for the axis's last label, flush with its end.
    return alt.layer(bars, *labels).properties(
        height=max(240, 24 * len(data)), padding={"top": 5, "left": 5, "right": 12, "bottom": 5}
    )


def sentiment_pie(counts: pd.DataFrame) -> alt.Chart:
    """Symbols per sentiment level, a ring in the levels' fixed colours.

    The hole is half the ring's radius whatever the column's width (a fixed 60 px left a
    hairline of a ring in a narrow column)."""
    data = counts[counts["symbols"] > 0]
    levels = list(data["sentiment"])
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_arc(innerRadius=alt.ExprRef("min(width, height) / 4"))
        .encode(
            theta=alt.Theta("symbols:Q", stack=True),
            order=alt.Order("rank:Q"),
            color=alt.Color(
                "sentiment:N",
                sort=levels,
                scale=alt.Scale(domain=levels, range=[SENTIMENT_COLOURS[s] for s in levels]),
                legend=alt.Legend(title=None, orient="right"),
            ),
            tooltip=[
                alt.Tooltip("sentiment:N", title="Sentiment"),
                alt.Tooltip("symbols:Q", title="Symbols"),
            ],
        )
        .transform_calculate(rank=f"indexof({levels!r}, datum.sentiment)")
        .properties(height=280)
    )
    return chart


# An axis label as the tiles write amounts (`ui.compact`: 150 M, 1.2 B), not 150,000,000.
COMPACT_LABEL = (
    " : ".join(
        f"abs(datum.value) >= {size:g} ? format(datum.value / {size:g}, '~r') + ' {unit}'"
        for unit, size in COMPACT_UNITS
    )
    + " : format(datum.value, '~r')"
)


def volume_bars(data: pd.DataFrame) -> alt.Chart:
    """Volume per symbol, highest first."""
    chart: alt.Chart = (
        alt.Chart(data[["symbol", "volume"]])
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("symbol:N", sort="-y", title="Symbol"),
            y=alt.Y("volume:Q", title="Volume (shares)", axis=alt.Axis(labelExpr=COMPACT_LABEL)),
            tooltip=[
                alt.Tooltip("symbol:N", title="Symbol"),
                alt.Tooltip("volume:Q", title="Volume", format=",.0f"),
            ],
        )
        # Room above the plot for the top tick's label, centred on its tick: without it the
        # label reached past the chart's top edge when the highest bar ended near a tick.
        .properties(height=300, padding={"top": 10, "left": 5, "right": 5, "bottom": 5})
    )
    return chart
