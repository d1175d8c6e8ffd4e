"""Figures of the Explore page, built from query results, in Plotly. The Quality and
Pipeline pages draw theirs in Vega-Lite (`runcharts`), so they do not load Plotly's script."""

from __future__ import annotations

import html
from datetime import date

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from bucketpipe.app.ui import ACCENT, FLAT, PALETTE, rate
from bucketpipe.serve.queries.aggregates import OTHERS


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


def as_written(values: pd.Series) -> pd.Series:
    """Text values as Plotly shows them literally. It reads a subset of HTML in every label,
    legend entry and hover (`<b>`, `<br>`, `<a href>`, entities): a value `<b>x</b>` drew a
    bold x and `<a href=...>` a link; escaped, it reads as written. Other values pass."""
    if not pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        return values
    return values.map(
        lambda v: html.escape(v, quote=False) if isinstance(v, str) else v, na_action="ignore"
    )


def written(data: pd.DataFrame, *columns: str | None) -> pd.DataFrame:
    """`data` with the text of `columns` (those present) as written (`as_written`)."""
    named = [c for c in columns if c is not None and c in data]
    return data.assign(**{c: as_written(data[c]) for c in named}) if named else data


def categories(data: pd.DataFrame, column: str | None) -> dict[str, object]:
    """Colours of a categorical column's values, the same in every chart of the page: each
    value takes the palette's colours in sorted order (not in the order rows happen to
    arrive, which differs between a sample and an aggregate), the pooled rest is grey."""
    if column is None or column not in data:
        return {}
    present = set(data[column].dropna())
    values = sorted(present - {OTHERS}, key=str)
    colours = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(values)} | {OTHERS: FLAT}
    ordered = values + ([OTHERS] if OTHERS in present else [])
    return {"color_discrete_map": colours, "category_orders": {column: ordered}}


def integer_ticks(maximum: object, ticks: int = 5) -> dict[str, object]:
    """Axis settings for counts: whole-number ticks from 0, about `ticks` of them (a count
    of at most 2 would otherwise get ticks at 0.5, 1.5)."""
    try:
        top = float(maximum)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        top = 0.0
    top = top if np.isfinite(top) else 0.0
    rough = max(top, 1.0) / ticks
    magnitude = 10 ** int(np.floor(np.log10(rough))) if rough >= 1 else 1
    step = next((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough), 1)
    return {"tick0": 0, "dtick": max(1, int(step)), "tickformat": ",d", "rangemode": "tozero"}


def integral(values: pd.Series) -> bool:
    """Whole numbers only (counts), so an axis of them gets whole-number ticks."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return not numbers.empty and bool((numbers == numbers.round()).all())


def histogram(data: pd.DataFrame, column: str, title: str | None = None) -> go.Figure:
    """Rows per bin of `column` (40 bins) with a box plot above; `title` names the x axis."""
    values = pd.to_numeric(data[column], errors="coerce").dropna()
    fig = px.histogram(data, x=column, marginal="box", color_discrete_sequence=[ACCENT])
    if len(values) and values.min() < values.max():
        edges = np.histogram_bin_edges(values, bins=40)
        counts, _ = np.histogram(values, bins=edges)
        size = float(edges[1] - edges[0])
        # Bins fixed here, so the count axis' ticks follow the tallest bar drawn.
        fig.update_traces(
            xbins={"start": edges[0], "end": edges[-1] + size, "size": size},
            selector={"type": "histogram"},
        )
        fig.update_yaxes(integer_ticks(counts.max()), row=1, col=1)
    else:
        fig.update_yaxes(integer_ticks(len(values)), row=1, col=1)
    fig.update_yaxes(title_text="Rows", row=1, col=1)
    fig.update_xaxes(title_text=title or column, row=1, col=1)
    return layout(fig, 380, hovermode="closest")


def scatter(
    data: pd.DataFrame,
    x: str,
    y: str,
    colour: str | None,
    trend: bool,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """A scatter plot with an optional least-squares trend line (over all points); `labels`
    name the columns on the axes, legend and hover."""
    data = written(data, colour)
    fig = px.scatter(
        data,
        x=x,
        y=y,
        color=colour,
        opacity=0.7,
        color_discrete_sequence=PALETTE,
        labels=labels or {},
        **categories(data, colour),
    )
    if trend:
        line = trend_line(data[x], data[y])
        if line is not None:
            xs, ys, slope = line
            timed = pd.api.types.is_datetime64_any_dtype(data[x])  # a slope per tick of time
            per = "day" if timed else (labels or {}).get(x, x)
            slope *= pd.Timedelta(days=1) / pd.Timedelta(1, data[x].dt.unit) if timed else 1.0
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=f"trend ({rate(slope, per)})",
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


# Columns past which a heatmap's cells are too narrow for their figures (hover shows them).
HEATMAP_TEXT_COLUMNS = 31


SLANT_FROM = 30  # characters of a heatmap's column labels from which they are slanted


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    zmid: float | None = 0.0,
    axes: tuple[str, str] | None = None,
    *,
    measure: str | None = None,
    counts: bool = False,
) -> go.Figure:
    """A matrix as coloured cells; `axes` titles (x, y), else none (a correlation matrix).
    `measure` titles the colour bar; `counts` gives whole-number figures and ticks."""
    name = measure or title
    # Counts whole; a correlation to 2 decimals; a measure (a mean of 3.485 to 3.497) to 4
    # significant digits, so cells of different colours do not all read 3.49.
    figures = ",d" if counts else (".2f" if zmid == 0.0 else ",.4~r")
    text = figures if matrix.shape[1] <= HEATMAP_TEXT_COLUMNS else False
    top = float(np.nanmax(matrix.to_numpy(dtype=float))) if matrix.size else 0.0
    matrix = matrix.set_axis(as_written(matrix.index.to_series()), axis=0).set_axis(
        as_written(matrix.columns.to_series()), axis=1
    )
    fig = px.imshow(
        matrix,
        text_auto=text,
        color_continuous_scale="RdBu_r" if zmid is not None else "Blues",
        color_continuous_midpoint=zmid,
        range_color=[0, max(top, 1.0)] if counts else None,
        aspect="auto",
        labels={"x": axes[0], "y": axes[1], "color": name} if axes else {"color": name},
    )
    # Cells are categories, days included: a date axis stretched Friday's and Monday's cells
    # over the weekend, which has none. Long labels (three readings' names on a phone
    # overlapped) are slanted.
    slant = sum(len(str(c)) for c in matrix.columns) > SLANT_FROM
    fig.update_xaxes(
        title_text=axes[0] if axes else None, type="category", tickangle=-35 if slant else None
    )
    fig.update_yaxes(title_text=axes[1] if axes else None, type="category")
    if counts:
        ticks = integer_ticks(top)
        fig.update_layout(coloraxis_colorbar={k: v for k, v in ticks.items() if k != "rangemode"})
    fig.update_layout(coloraxis_colorbar_title_text=name)
    return layout(fig, max(320, 30 * len(matrix) + 120), hovermode="closest", title=title)


# The steps of `aggregates.BUCKETS` (a week's buckets start on a Monday, a month's on its 1st).
STEPS = {"hour": "h", "day": "D", "week": "7D", "month": "MS"}
MAX_FILLED = 20_000  # points a filled series may have; past it the series is drawn as it is
# Tick spacing of each bucket (Plotly's `dtick`: milliseconds, or months), used while a series
# has few buckets: left alone, Plotly spread the ticks of a single hour's point over a
# millisecond (`16:59:59.999`, `17:00:00.0005`).
BUCKET_TICKS: dict[str, int | str] = {
    "hour": 3_600_000,
    "day": 86_400_000,
    "week": 7 * 86_400_000,
    "month": "M1",
}
FEW_BUCKETS = 8


def every_bucket(
    data: pd.DataFrame, x: str, y: str, group: str | None, bucket: str, counts: bool
) -> pd.DataFrame:
    """Every `bucket` from the first to the last, for every group: a bucket without rows
    counts 0 rows, and a measure there is missing, so its line breaks. Without it a line
    joins Friday to Monday as if the weekend had rows."""
    if data.empty or bucket not in STEPS:
        return data
    times = pd.to_datetime(data[x])
    full = pd.date_range(times.min(), times.max(), freq=STEPS[bucket], name=x)
    groups = list(dict.fromkeys(data[group])) if group else [None]
    if len(full) * len(groups) > MAX_FILLED or not times.isin(full).all():
        return data  # buckets that do not fall on the steps (or too many): as they are
    if group:
        index = pd.MultiIndex.from_product([full, groups], names=[x, group])
        out = data.assign(**{x: times}).set_index([x, group])[[y]].reindex(index)
    else:
        out = data.assign(**{x: times}).set_index(x)[[y]].reindex(full)
    if counts:
        out[y] = out[y].fillna(0)
    return out.reset_index()


def bucket_ticks(fig: go.Figure, times: pd.Series, bucket: str) -> None:
    """A tick per bucket while there are few (none between two buckets, none finer than a
    bucket), and a single bucket's point in the middle of a range of three buckets."""
    times = times.dropna()
    if times.empty or times.nunique() > FEW_BUCKETS:
        return
    first = times.min()
    fig.update_xaxes(dtick=BUCKET_TICKS[bucket], tick0=first)
    if times.nunique() == 1:
        step = pd.tseries.frequencies.to_offset(STEPS[bucket])
        fig.update_xaxes(range=[first - step, first + step])


def partial(fig: go.Figure, first: pd.Timestamp, cut: date | None, bucket: str) -> None:
    """Shade the first bucket when the window starts inside it: it holds only the rows after
    `cut`, so its drop is the window's, not the data's."""
    if cut is None:
        return
    start = pd.Timestamp(cut)
    if (start.tzinfo is None) != (first.tzinfo is None):  # a window on a zone-less column
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert(None)
    if first >= start:
        return
    fig.add_vrect(
        x0=first,
        x1=first + pd.tseries.frequencies.to_offset(STEPS[bucket]),
        fillcolor=FLAT,
        opacity=0.12,
        line_width=0,
        annotation_text=f"partial {bucket}",
        annotation_position="top left",
    )


def lines(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str | None,
    y_title: str,
    group_title: str | None = None,
    *,
    bucket: str | None = None,
    counts: bool = False,
    cut: date | None = None,
) -> go.Figure:
    """A line per `group` (one line without); the legend is titled `group_title` and sits
    below the chart, where a title above it cannot cover it (nor a phone's wrapped rows).
    With the `bucket` the rows are per, every bucket is drawn (`every_bucket`; `counts`: an
    empty one is 0) and a first bucket the window starts inside (`cut`) is shaded."""
    data = every_bucket(data, x, y, group, bucket, counts) if bucket else data
    data = written(data, group)
    fig = px.line(
        data,
        x=x,
        y=y,
        color=group,
        color_discrete_sequence=PALETTE,
        markers=len(data) < 60,
        **categories(data, group),
    )
    fig.update_yaxes(title_text=y_title)
    if integral(data[y]):
        fig.update_yaxes(integer_ticks(pd.to_numeric(data[y], errors="coerce").max()))
    if bucket in STEPS and not data.empty:
        partial(fig, pd.to_datetime(data[x]).min(), cut, bucket)
        bucket_ticks(fig, pd.to_datetime(data[x]), bucket)
    legend = {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0}
    return layout(fig, 400, legend=legend | {"title": {"text": group_title or group or ""}})


def time_title(name: str, bucket: str | None = None, utc: bool = True) -> str:
    """A time axis' title: the column's label, the bucket unless the label names it already,
    UTC for timestamps (`Time (per hour, UTC)`; a `day` column per day is just `Day`)."""
    notes = [f"per {bucket}"] if bucket and bucket.lower() != name.lower() else []
    notes += ["UTC"] if utc else []
    return f"{name} ({', '.join(notes)})" if notes else name


def distribution(
    data: pd.DataFrame,
    value: str,
    by: str | None,
    kind: str,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """A box or violin plot of `value`, split by `by`; `labels` name the columns."""
    maker = px.violin if kind == "violin" else px.box
    extra = {"box": True} if kind == "violin" else {}
    data = written(data, by)
    fig = maker(
        data,
        x=by,
        y=value,
        color=by,
        color_discrete_sequence=PALETTE,
        labels=labels or {},
        **categories(data, by),
        **extra,
    )
    if kind == "violin":
        # A density drawn only between the smallest and largest value: its smoothed tails
        # would otherwise show values below 0 for a column that has none.
        fig.update_traces(spanmode="hard")
    return layout(fig, 400, hovermode="closest", showlegend=False)


def bars(
    data: pd.DataFrame,
    x: str,
    y: str,
    colour: str = ACCENT,
    horizontal: bool = False,
    titles: tuple[str, str] | None = None,
) -> go.Figure:
    """Bars of `y` per `x`; `titles` name the axes (the label's, the count's), else the
    column names do."""
    label, count = titles or (x, y)
    data = written(data, x)
    ticks = integer_ticks(pd.to_numeric(data[y]).max()) if integral(data[y]) else {}
    if horizontal:
        fig = go.Figure(go.Bar(x=data[y], y=data[x], orientation="h", marker_color=colour))
        fig.update_yaxes(autorange="reversed", title_text=label)
        fig.update_xaxes(title_text=count, **ticks)
    else:
        fig = go.Figure(go.Bar(x=data[x], y=data[y], marker_color=colour))
        fig.update_xaxes(title_text=label)
        fig.update_yaxes(title_text=count, **ticks)
    return layout(fig, max(260, 28 * len(data) + 60) if horizontal else 300, hovermode="closest")
