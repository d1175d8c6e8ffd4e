"""Plotly figures of the data pages (Explore, Quality, Pipeline), built from query results."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from bucketpipe.app.ui import ACCENT, DOWN, FLAT, PALETTE, UP


def layout(fig: go.Figure, height: int, **extra: object) -> go.Figure:
    """The common look: compact margins, legend on top, one hover label per x."""
    look: dict[str, object] = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        "hovermode": "x unified",
        "colorway": list(PALETTE),
    }
    look.update(extra)
    fig.update_layout(**look)
    return fig


def histogram(data: pd.DataFrame, column: str) -> go.Figure:
    fig = px.histogram(data, x=column, marginal="box", nbins=40, color_discrete_sequence=[ACCENT])
    return layout(fig, 380, hovermode="closest")


def scatter(data: pd.DataFrame, x: str, y: str, colour: str | None, trend: bool) -> go.Figure:
    """A scatter plot with an optional least-squares trend line (over all points)."""
    fig = px.scatter(data, x=x, y=y, color=colour, opacity=0.7, color_discrete_sequence=PALETTE)
    if trend:
        line = trend_line(data[x], data[y])
        if line is not None:
            xs, ys, slope = line
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=f"trend (slope {slope:.3g})",
                    line={"color": "#0f172a", "dash": "dash"},
                )
            )
    return layout(fig, 420, hovermode="closest")


def trend_line(x: pd.Series, y: pd.Series) -> tuple[list[float], list[float], float] | None:
    """Least-squares line through numeric (x, y) pairs: its two end points and slope."""
    pairs = pd.DataFrame(
        {"x": pd.to_numeric(x, errors="coerce"), "y": pd.to_numeric(y, errors="coerce")}
    )
    pairs = pairs.dropna()
    if len(pairs) < 2 or pairs["x"].nunique() < 2:
        return None
    slope, intercept = np.polyfit(pairs["x"], pairs["y"], 1)
    ends = [float(pairs["x"].min()), float(pairs["x"].max())]
    return ends, [slope * v + intercept for v in ends], float(slope)


def heatmap(matrix: pd.DataFrame, title: str, zmid: float | None = 0.0) -> go.Figure:
    fig = px.imshow(
        matrix,
        text_auto=".2f",
        color_continuous_scale="RdBu_r" if zmid is not None else "Blues",
        color_continuous_midpoint=zmid,
        aspect="auto",
    )
    return layout(fig, max(320, 30 * len(matrix) + 120), hovermode="closest", title=title)


def lines(data: pd.DataFrame, x: str, y: str, group: str | None, y_title: str) -> go.Figure:
    fig = px.line(
        data, x=x, y=y, color=group, color_discrete_sequence=PALETTE, markers=len(data) < 60
    )
    fig.update_yaxes(title_text=y_title)
    return layout(fig, 380)


def distribution(data: pd.DataFrame, value: str, by: str | None, kind: str) -> go.Figure:
    """A box or violin plot of `value`, split by `by`."""
    maker = px.violin if kind == "violin" else px.box
    extra = {"box": True} if kind == "violin" else {}
    fig = maker(data, x=by, y=value, color=by, color_discrete_sequence=PALETTE, **extra)
    return layout(fig, 400, hovermode="closest", showlegend=False)


def bars(
    data: pd.DataFrame, x: str, y: str, colour: str = ACCENT, horizontal: bool = False
) -> go.Figure:
    if horizontal:
        fig = go.Figure(go.Bar(x=data[y], y=data[x], orientation="h", marker_color=colour))
        fig.update_yaxes(autorange="reversed")
    else:
        fig = go.Figure(go.Bar(x=data[x], y=data[y], marker_color=colour))
    return layout(fig, max(260, 28 * len(data) + 60) if horizontal else 300, hovermode="closest")


# Reports closer together than this are drawn one per tick rather than on a time axis.
SHORT_SPAN = pd.Timedelta(minutes=10)


def score_lines(
    history: pd.DataFrame, columns: Sequence[str], threshold: float | None
) -> go.Figure:
    """Quality scores of one dataset over its runs: overall and each dimension."""
    fig = go.Figure()
    for i, column in enumerate(columns):
        overall = column == "overall_score"
        fig.add_trace(
            go.Scatter(
                x=history["created_at"],
                y=history[column],
                name="overall" if overall else column,
                mode="lines+markers",
                line={"width": 3 if overall else 1.5, "color": PALETTE[i % len(PALETTE)]},
            )
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"color": FLAT, "dash": "dot"},
            annotation_text=f"lowest pass mark {threshold:g} %",
            annotation_position="bottom left",
        )
    fig.update_yaxes(title_text="Score (%)", range=[0, 102])
    times = pd.to_datetime(history["created_at"])
    if len(times) and (times.max() - times.min()) < SHORT_SPAN:
        # Runs seconds apart would get sub-second ticks on a time axis: one tick per run.
        labels = times.dt.strftime("%Y-%m-%d %H:%M:%S")
        for trace in fig.data:
            trace.x = labels
        fig.update_xaxes(type="category", title_text="Clean run (UTC)")
    else:
        # Never finer than seconds, whatever the zoom.
        fig.update_xaxes(
            tickformatstops=[
                {"dtickrange": [None, 1000], "value": "%H:%M:%S"},
                {"dtickrange": [1000, None], "value": ""},
            ]
        )
    return layout(fig, 320)


def dimension_bars(dims: pd.DataFrame) -> go.Figure:
    """Each quality dimension's score against its threshold (green met, red not)."""
    colours = [UP if ok else DOWN for ok in dims["passed"]]
    fig = go.Figure(
        go.Bar(
            x=dims["dimension"],
            y=dims["score"],
            marker_color=colours,
            text=[f"{v:.1f} %" for v in dims["score"]],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=dims["dimension"],
            y=dims["threshold"],
            mode="markers",
            name="threshold",
            marker={"symbol": "line-ew-open", "size": 40, "color": "#0f172a"},
        )
    )
    fig.update_yaxes(range=[0, 112], title_text="%")
    return layout(fig, 300, hovermode="closest", showlegend=False)


def run_timeline(runs: pd.DataFrame) -> go.Figure:
    """Each run as a bar from its start to its finish, coloured by status."""
    colours = {"succeeded": UP, "partial": "#f59e0b", "failed": DOWN, "noop": FLAT}
    data = runs.assign(lane=runs["job"] + runs["source"].map(lambda s: f" ({s})" if s else ""))
    fig = px.timeline(
        data,
        x_start="started_at",
        x_end="finished_at",
        y="lane",
        color="status",
        color_discrete_map=colours,
        hover_data=["run_id", "rows", "duration_s"],
    )
    fig.update_yaxes(title_text=None)
    return layout(fig, max(220, 60 * data["lane"].nunique() + 80), hovermode="closest")
