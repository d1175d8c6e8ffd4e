"""Charts of the Quality and Pipeline pages, built from query results, in Vega-Lite (Altair):
a page with no Plotly chart does not load Plotly's script. Their time axes tick on whole UTC
steps chosen here."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from bucketpipe.app.ui import ACCENT, DOWN, FLAT, PALETTE, UP

# Reports closer together than this are drawn one per tick rather than on a time axis.
SHORT_SPAN = pd.Timedelta(minutes=10)
DIMENSION_COLOURS = {True: UP, False: DOWN}
# Room above 100 % (percent points) for the score written over a full bar.
LABEL_ROOM = 10
STATUS_COLOURS = {"succeeded": UP, "partial": "#f59e0b", "failed": DOWN, "noop": FLAT}
# Tick steps of a time axis in seconds, finest first: never finer than a second.
MONTH, QUARTER, YEAR = 30 * 86400, 91 * 86400, 365 * 86400  # ticks on their first days
TICK_STEPS = (
    1,
    5,
    15,
    60,
    300,
    900,
    3600,
    3 * 3600,
    6 * 3600,
    86400,
    7 * 86400,
    MONTH,
    QUARTER,
    YEAR,
)
# A time label whose tick lies this close (px) to either end of the axis is aligned flush with
# the end, so it is not cut off: half the widest label ("12-06 05:48") with room to spare.
LABEL_FLUSH_PX = 40


def time_axis(times: pd.Series, title: str) -> alt.Axis:
    """A time axis of about six ticks at most, never finer than a second (Vega-Lite picks
    millisecond ticks for a span of a few seconds), labelled as finely as its step needs.

    The ticks are placed here, on whole steps in UTC (midnights, Mondays, month starts), not
    left to Vega: its `tickMinStep` only caps the number of ticks, so two days got ticks twelve
    hours apart, two of them labelled with the same date. (Not a `tickCount` interval either:
    the Vega bundled with Streamlit fails on an interval object and draws nothing.)"""
    stamps = pd.to_datetime(times.dropna(), utc=True)
    if not len(stamps):
        return alt.Axis(title=title, format="%H:%M:%S", labelFlush=LABEL_FLUSH_PX)
    first, last = stamps.min(), stamps.max()
    span = (last - first).total_seconds()
    index = next((i for i, s in enumerate(TICK_STEPS) if span / s <= 6), len(TICK_STEPS) - 1)
    ticks = tick_times(first, last, TICK_STEPS[index])
    if len(ticks) < 2 and index > 0:  # one tick or none: a step finer
        index -= 1
        ticks = tick_times(first, last, TICK_STEPS[index])
    step = TICK_STEPS[index]
    label = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%Y-%m-%d"
    if step < 86400 and span >= 86400 / 2:
        label = "%m-%d %H:%M"
    return alt.Axis(
        title=title,
        format=label,
        values=[utc_datetime(t) for t in ticks],
        labelFlush=LABEL_FLUSH_PX,
    )


def utc_datetime(t: pd.Timestamp) -> alt.DateTime:
    """A tick's time as Vega-Lite spells it (a bare number draws no tick on a time axis)."""
    return alt.DateTime(
        year=t.year,
        month=t.month,
        date=t.day,
        hours=t.hour,
        minutes=t.minute,
        seconds=t.second,
        utc=True,
    )


def tick_times(first: pd.Timestamp, last: pd.Timestamp, step: int) -> list[pd.Timestamp]:
    """The whole steps of `step` seconds in UTC from `first` to `last`: multiples of the
    step for up to a day, Mondays for a week, the first day of each month, quarter or year
    above."""
    calendar = {MONTH: "MS", QUARTER: "QS", YEAR: "YS"}
    if step in calendar:
        found = pd.date_range(first.floor("D"), last, freq=calendar[step])
    elif step == 7 * 86400:
        found = pd.date_range(first.floor("D"), last, freq="W-MON")
    else:
        found = pd.date_range(first.ceil(f"{step}s"), last, freq=f"{step}s")
    return [t for t in found if first <= t <= last] or [first]


def score_lines(
    history: pd.DataFrame, columns: Sequence[str], threshold: float | None
) -> alt.Chart | alt.LayerChart | alt.FacetChart:
    """Quality scores of one dataset over its runs: overall and each dimension (Vega-Lite:
    the Quality page draws no Plotly chart, so a first visit does not load Plotly's script)."""
    names = {c: "overall" if c == "overall_score" else c for c in columns}
    times = pd.to_datetime(history["created_at"], utc=True)
    short = bool(len(times)) and (times.max() - times.min()) < SHORT_SPAN
    days = times.dt.strftime("%Y-%m-%d")
    one_day = days.nunique() == 1
    # Runs of one day are told apart by their time; the day goes to the axis title. Runs of
    # the same second get milliseconds: an ordinal axis draws equal labels as one run.
    run = times.dt.strftime("%Y-%m-%d %H:%M:%S")
    if run.duplicated().any():
        run = times.dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
    tick = run.str[11:] if one_day else run
    data = (
        history.assign(run=run, tick=tick, at=times)[["run", "tick", "at", *columns]]
        .melt(
            id_vars=["run", "tick", "at"],
            value_vars=list(columns),
            var_name="score",
            value_name="pct",
        )
        .assign(score=lambda d: d["score"].map(names))
    )
    if short:
        # Runs seconds apart would get sub-second ticks on a time axis: one tick per run.
        title = f"Clean run (UTC, {days.iloc[0]})" if one_day else "Clean run (UTC)"
        x = alt.X("tick:O", title=title, axis=alt.Axis(labelAngle=-30))
    else:
        x = alt.X("at:T", axis=time_axis(times, "Clean run (UTC)"), scale=alt.Scale(type="utc"))
    order = list(names.values())
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("pct:Q", title="Score (%)", scale=alt.Scale(domain=[0, 102])),
            color=alt.Color(
                "score:N",
                sort=order,
                scale=alt.Scale(domain=order, range=list(PALETTE[: len(order)])),
                # Beside the plot, one to a row: above it, a row of five overflows a phone's
                # width and rows of two take a third of the chart's height.
                legend=alt.Legend(title=None, orient="right"),
            ),
            strokeWidth=alt.condition("datum.score === 'overall'", alt.value(3), alt.value(1.5)),
            tooltip=[
                alt.Tooltip("run:N", title="Clean run (UTC)"),
                alt.Tooltip("score:N", title="Score"),
                alt.Tooltip("pct:Q", title="%", format=".1f"),
            ],
        )
    )
    if threshold is not None:
        mark = pd.DataFrame({"pct": [threshold], "label": [f"lowest pass mark {threshold:g} %"]})
        rule = alt.Chart(mark).mark_rule(color=FLAT, strokeDash=[3, 3]).encode(y="pct:Q")
        text = (
            alt.Chart(mark)
            .mark_text(align="left", baseline="top", dx=4, dy=4, color=FLAT)
            .encode(y="pct:Q", text="label:N", x=alt.value(0))
        )
        return alt.layer(lines, rule, text).properties(height=320)
    chart: alt.Chart = lines.properties(height=320)
    return chart


def dimension_bars(dims: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Each quality dimension's score against its threshold (green met, red not)."""
    data = dims[["dimension", "score", "threshold", "passed"]].assign(
        label=[f"{v:.1f} %" for v in dims["score"]],
        colour=[DIMENSION_COLOURS[bool(ok)] for ok in dims["passed"]],
    )
    order = list(data["dimension"])
    base = alt.Chart(data).encode(
        x=alt.X(
            "dimension:N",
            sort=order,
            title=None,
            axis=alt.Axis(labelAngle=-30, labelOverlap=False),
        ),
        tooltip=[
            alt.Tooltip("dimension:N", title="Dimension"),
            alt.Tooltip("score:Q", title="Score %", format=".1f"),
            alt.Tooltip("threshold:Q", title="Threshold %", format="g"),
        ],
    )
    # The axis ends at 100 with room above it for the score written over a full bar.
    y = alt.Y(
        "score:Q",
        title="%",
        scale=alt.Scale(domain=[0, 100 + LABEL_ROOM], nice=False),
        axis=alt.Axis(values=list(range(0, 101, 20))),
    )
    bars = base.mark_bar().encode(y=y, color=alt.Color("colour:N", scale=None))
    labels = base.mark_text(baseline="bottom", dy=-3).encode(y="score:Q", text="label:N")
    marks = base.mark_tick(color="#0f172a", thickness=2, size=40).encode(y="threshold:Q")
    return alt.layer(bars, labels, marks).properties(height=300)


def count_bars(data: pd.DataFrame, label: str, count: str, colour: str, title: str) -> alt.Chart:
    """Horizontal bars of a count per label, largest first."""
    chart: alt.Chart = (
        alt.Chart(data[[label, count]])
        .mark_bar(color=colour)
        .encode(
            y=alt.Y(f"{label}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
            # Counts: whole-number ticks only (no 0.5 between 0 and 1).
            x=alt.X(f"{count}:Q", title=title, axis=alt.Axis(format=",d", tickMinStep=1)),
            tooltip=[
                alt.Tooltip(f"{label}:N", title=label.capitalize()),
                alt.Tooltip(f"{count}:Q", title=title, format=",.0f"),
            ],
        )
        .properties(height=max(160, 28 * len(data) + 40))
    )
    return chart


def run_timeline(runs: pd.DataFrame) -> alt.Chart:
    """Each run as a bar from its start to its finish, coloured by status, one lane per job."""
    data = runs.assign(lane=runs["job"] + runs["source"].map(lambda s: f" ({s})" if s else ""))
    if "output" not in data:
        data = data.assign(output=data["rows"].map(lambda n: f"{int(n or 0):,}"))
    data = data[["lane", "started_at", "finished_at", "status", "run_id", "output", "duration_s"]]
    started = pd.to_datetime(data["started_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    data = data.assign(started=started)
    statuses = [s for s in STATUS_COLOURS if s in set(data["status"])] + sorted(
        set(data["status"]) - set(STATUS_COLOURS)
    )
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar(minBandSize=3)  # a run of a second is still visible on a day-long axis
        .encode(
            x=alt.X(
                "started_at:T",
                axis=time_axis(pd.concat([data["started_at"], data["finished_at"]]), "Time (UTC)"),
                scale=alt.Scale(type="utc"),
            ),
            x2="finished_at:T",
            y=alt.Y("lane:N", title=None),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=statuses, range=[STATUS_COLOURS.get(s, ACCENT) for s in statuses]
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("run_id:N", title="Run"),
                alt.Tooltip("status:N", title="Status"),
                alt.Tooltip("started:N", title="Started (UTC)"),
                alt.Tooltip("duration_s:Q", title="Duration (s)", format=".2f"),
                alt.Tooltip("output:N", title="Output"),
            ],
        )
        # A step per lane, not a height: Streamlit fits the legend and axes into a chart's
        # height, which left two lanes about 5 px of it, their labels drawn over each other.
        .properties(height=alt.Step(32))
    )
    return chart
