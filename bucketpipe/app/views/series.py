"""Explore's Time series tab: a measure per time bucket, one line per entity by default."""

from __future__ import annotations

from typing import Any

import streamlit as st

from bucketpipe.app import columns, plots, state
from bucketpipe.app.columns import label, measure, phrase, pick
from bucketpipe.app.sqlbox import show_sql
from bucketpipe.serve.queries import aggregates, explore


def window_args(sl: explore.Slice, bucket: str, counts: bool) -> dict[str, Any]:
    """How `plots.lines` draws a bucketed series of the slice: every bucket (an empty one
    counts 0 rows, a measure there is a gap) and the first one shaded when the slice's window
    starts inside it."""
    return {"bucket": bucket, "counts": counts, "cut": sl.start if sl.after else None}


ALL_TOGETHER = "(all together)"
SERIES_GROUPS = 8


def series_tab(sl: explore.Slice, cols: dict[str, str], kinds: dict[str, list[str]]) -> None:
    if sl.time_column is None:
        st.info("This dataset has no time column.", icon=":material/info:")
        return
    start, end = state.query(explore.time_bounds, sl, datasets=(sl.dataset,))
    a, b, c, d = st.columns(4)
    value = pick(a, "Value", [None, *kinds["numeric"]], "series_value", "row count")
    agg = b.selectbox(
        "Aggregate", list(aggregates.AGGREGATES), key="series_agg", disabled=value is None
    )
    buckets = list(aggregates.BUCKETS)
    bucket = c.selectbox(
        "Per", buckets, index=buckets.index(aggregates.auto_bucket(start, end)), key="series_bucket"
    )
    # One line per entity by default (averaging across symbols hides what each one did).
    splits = [*kinds["categorical"], None]
    entity = explore.entity_column(kinds["categorical"])
    by = pick(
        d,
        "Split by",
        splits,
        "series_by",
        ALL_TOGETHER,
        index=splits.index(entity),
        help=f"One line for each of the {SERIES_GROUPS} most frequent values, the rest pooled "
        f"as '{aggregates.OTHERS}'; {ALL_TOGETHER} aggregates every row into one line.",
    )
    options = {"bucket": bucket, "agg": agg, "by": by, "max_groups": SERIES_GROUPS}
    data = state.query(aggregates.series, sl, value, datasets=(sl.dataset,), **options)
    if data.empty:
        st.info("No rows in the window.", icon=":material/info:")
        return
    if value is not None and agg != "count":
        data = data.assign(value=data["value"] * columns.factor(value))
    what = measure(value, agg)
    scope = f"per {phrase(by)}" if by else "over all rows together"
    y_title = f"{what[0].upper()}{what[1:]}"
    group = "group" if by else None
    counts = value is None or agg == "count"
    figure = plots.lines(
        data,
        "bucket",
        "value",
        group,
        y_title,
        label(by) if by else None,
        **window_args(sl, bucket, counts),
    )
    figure.update_layout(title=f"{y_title} per {bucket}, {scope}", margin={"t": 50})
    utc = "TIME ZONE" in cols.get(sl.time_column, "").upper()  # not a zone-less TIMESTAMP
    figure.update_xaxes(title_text=plots.time_title(label(sl.time_column), bucket, utc))
    st.plotly_chart(figure, key="series")
    show_sql(*aggregates.series_sql(sl, value, **options))
