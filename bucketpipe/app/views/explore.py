"""Explore: any committed dataset, sliced by time, summarised, charted, paged and downloaded."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from bucketpipe.app import columns, layout, plots, state, ui
from bucketpipe.app.columns import label, measure, phrase, pick
from bucketpipe.app.sqlbox import show_sql
from bucketpipe.app.views.series import series_tab, window_args
from bucketpipe.quality.wording import score_text
from bucketpipe.serve.queries import aggregates, explore, files, quality
from bucketpipe.serve.queries.base import visible
from bucketpipe.serve.reader import describe


def pick_dataset() -> str | None:
    lake = state.lake()
    snapshots = sorted(lake.snapshots.values(), key=lambda s: s.created_at, reverse=True)
    if not snapshots:
        return None
    labels = {
        s.dataset: f"{s.dataset}  ·  {ui.plural(s.rows, 'row')}  ·  "
        f"committed {ui.age(s.created_at)}"
        for s in snapshots
    }
    names = list(labels)
    wanted = st.query_params.get("dataset")
    index = names.index(wanted) if wanted in names else 0
    name = st.selectbox(
        "Dataset",
        names,
        index=index,
        format_func=labels.__getitem__,
        key="explore_dataset",
        help="Committed datasets, most recently updated first.",
    )
    ui.not_found("the dataset", wanted, names, name)
    st.query_params["dataset"] = name
    return name


def slice_for(name: str, cols: dict[str, str]) -> tuple[explore.Slice, Any]:
    """The slice the page shows (a time window, flagged outliers or not), and the dataset's
    newest time value."""
    sl, newest = window_for(name, cols)
    if explore.OUTLIER_FLAGS in cols and st.toggle(
        "Hide flagged outliers",
        key=f"explore_outliers_{name}",
        help="Leave out the rows clean flagged as outliers in some column (`_outlier_columns` "
        "is set): every tile, chart and query below then counts only the other rows.",
    ):
        sl = dataclasses.replace(sl, outliers=False)
    return sl, newest


def window_for(name: str, cols: dict[str, str]) -> tuple[explore.Slice, Any]:
    column = explore.time_column(name, cols)
    whole = explore.Slice(name, column)
    if column is None:
        st.caption("This dataset has no time column: every row is shown.")
        return whole, None
    _, newest = state.query(explore.time_bounds, whole, datasets=(name,))
    window = (
        st.segmented_control(
            "Time window",
            list(explore.WINDOWS),
            default="All",
            key=f"explore_window_{name}",
            help=f"Rows newer than the newest `{ui.code(column)}` minus the window, up to the "
            "newest.",
        )
        or "All"
    )
    named = f" ({ui.text(phrase(column))})" if phrase(column) != column else ""
    st.caption(
        f"Filtering on `{ui.code(column)}`{named}; newest row: {ui.when(newest)}, {ui.age(newest)}."
    )
    return explore.windowed(name, column, newest, window), newest


def tiles(name: str, sl: explore.Slice, cols: dict[str, str], newest: Any) -> int:
    lake = state.lake()
    snap = lake.snapshots[name]
    rows = state.query(explore.count, sl, datasets=(name,))
    score = state.timed(quality.latest_score, name)
    c = layout.tiles("dataset", 4)
    c[0].metric("Rows", f"{rows:,}", help=f"{snap.rows:,} in the whole dataset", border=True)
    c[1].metric(
        "Columns",
        len(visible(cols)),
        help="Lineage and partition columns not counted.",
        border=True,
    )
    c[2].metric(
        "Quality score",
        score_text(score) if score is not None else "n/a",
        border=True,
        help="Overall score of the newest quality report (see the Quality page).",
    )
    row = f" The newest row is from {ui.when(newest)} ({ui.age(newest)})." if newest else ""
    c[3].metric(
        "Last commit",
        ui.age(snap.created_at),
        help=f"When data was last committed to this dataset: {ui.when(snap.created_at)}.{row}",
        border=True,
    )
    show_sql(*explore.count_sql(sl))
    return rows


def summary_tab(sl: explore.Slice, cols: dict[str, str], kinds: dict[str, list[str]]) -> None:
    shown = visible(cols)
    stats = state.query(explore.profile, sl, tuple(shown), datasets=(sl.dataset,))
    st.markdown("**Summary statistics**")
    table = columns.profile_table(stats)
    order = [c for c in columns.PROFILE_LABELS if c in table]
    ui.dataframe(table, hide_index=True, column_order=order, column_config=columns.profile_config())
    sql, params = sl.select(shown)
    exact, _ = explore.exact_sql(sl, shown, explore.ranked_types(cols, shown))
    show_sql(f"SUMMARIZE {sql};\n\n{exact}", params)
    if kinds["categorical"]:
        column = pick(st, "Top values of", kinds["categorical"], "explore_top_col")
        top = state.query(aggregates.top_values, sl, column, datasets=(sl.dataset,))
        st.plotly_chart(
            plots.bars(top, "value", "rows", horizontal=True, titles=(label(column), "Rows")),
            key="top_values",
        )
        show_sql(*aggregates.top_values_sql(sl, column))


def sample(
    sl: explore.Slice, kinds: dict[str, list[str]]
) -> tuple[pd.DataFrame, tuple[str, list[Any]]]:
    """Up to 20,000 rows for the charts, each value in its label's unit; and their SQL."""
    cols = tuple(kinds["numeric"] + kinds["categorical"])
    data = columns.frame(state.query(aggregates.sample, sl, cols, datasets=(sl.dataset,)))
    return data, aggregates.sample_sql(sl, cols)


def distribution_tab(sl: explore.Slice, kinds: dict[str, list[str]]) -> None:
    numeric = kinds["numeric"]
    if not numeric:
        st.info("This dataset has no numeric columns.", icon=":material/info:")
        return
    data, drawn = sample(sl, kinds)
    left, right = st.columns(2)
    column = pick(left, "Column", numeric, "explore_hist_col")
    with left:
        st.plotly_chart(plots.histogram(data, column, label(column)), key="histogram")
    kind = (
        right.segmented_control("Plot", ["box", "violin"], default="box", key="explore_dist")
        or "box"
    )
    split = [None, *kinds["categorical"]]
    by = pick(right, "Split by", split, "explore_dist_by", "(no split)")
    names = {c: label(c) for c in [column, *kinds["categorical"]]}
    with right:
        st.plotly_chart(plots.distribution(data, column, by, kind, names), key="distribution")
    st.caption(aggregates.sample_note(len(data)))
    show_sql(*drawn)


def relations_tab(sl: explore.Slice, kinds: dict[str, list[str]]) -> None:
    numeric = kinds["numeric"]
    data, drawn = sample(sl, kinds)
    if len(numeric) >= 2:
        a, b, c, d = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
        x = pick(a, "X", numeric, "explore_x")
        y = pick(b, "Y", numeric, "explore_y", index=1)
        colour = pick(c, "Colour by", [None, *kinds["categorical"]], "explore_colour", "(none)")
        trend = d.toggle("Trend line", value=True, key="explore_trend")
        names = {n: label(n) for n in [*numeric, *kinds["categorical"]]}
        st.plotly_chart(plots.scatter(data, x, y, colour, trend, names), key="scatter")
        st.caption(aggregates.sample_note(len(data)))
        show_sql(*drawn)
        matrix = aggregates.correlations(data, numeric).rename(index=names, columns=names)
        if not matrix.empty:
            st.plotly_chart(plots.heatmap(matrix, "Correlation (Pearson)"), key="correlation")
            used = aggregates.correlated(data, numeric)
            show_sql(*aggregates.correlations_sql(sl, used))
    else:
        st.info("A scatter plot and correlations need two numeric columns.", icon=":material/info:")
    dims = kinds["categorical"] + kinds["time"]
    if kinds["categorical"] and len(dims) >= 2:
        pivot_section(sl, kinds, dims)


# A pivot shows the most common values of each dimension, this many at most; a time
# dimension shows up to PIVOT_DAYS days when the rows' values fit (only those cut).
PIVOT_VALUES = 25
PIVOT_DAYS = 92


def pivot_section(sl: explore.Slice, kinds: dict[str, list[str]], dims: list[str]) -> None:
    st.markdown("**Pivot heatmap**")
    a, b, c, d = st.columns(4)
    rows = pick(a, "Rows", kinds["categorical"], "pivot_rows")
    others = [x for x in dims if x != rows]
    first_time = next((i for i, x in enumerate(others) if x in kinds["time"]), 0)
    cols = pick(b, "Columns", others, "pivot_cols", index=first_time)
    value = pick(c, "Value", [None, *kinds["numeric"]], "pivot_value", "row count")
    agg = d.selectbox(
        "Aggregate", list(aggregates.AGGREGATES), key="pivot_agg", disabled=value is None
    )
    timed = cols in kinds["time"]
    extent = state.query(
        explore.pivot_extent, sl, rows, cols, cols_are_time=timed, datasets=(sl.dataset,)
    )
    limit = PIVOT_VALUES
    if timed and extent.rows <= PIVOT_VALUES:
        limit = min(max(extent.cols, PIVOT_VALUES), PIVOT_DAYS)
    args = (sl, rows, cols, value, agg, limit)
    matrix = state.query(aggregates.pivot, *args, cols_are_time=timed, datasets=(sl.dataset,))
    counts = value is None or agg == "count"
    if not matrix.empty:
        what = measure(value, agg)
        what = what[:1].upper() + what[1:]
        title = f"{what} by {phrase(rows)} and {phrase(cols)}"
        cut = columns.pivot_cut(extent, limit, rows, cols, timed)
        if cut:
            title += f"<br><sup>Showing {cut}</sup>"
            st.caption(
                f"The heatmap shows {cut}: at most {limit:,} values a side keep its cells "
                "readable. The Time series tab charts every day of the window."
            )
        if not counts and value is not None:
            matrix = matrix * columns.factor(value)
        axes = (label(cols), label(rows))
        figure = plots.heatmap(matrix, title, None, axes, measure=what, counts=counts)
        figure.update_layout(margin={"t": 70 if cut else 40})
        st.plotly_chart(figure, key="pivot")
    show_sql(*aggregates.pivot_sql(*args, cols_are_time=timed))


def columns_tab(sl: explore.Slice, cols: dict[str, str], kinds: dict[str, list[str]]) -> None:
    """One column at a time: exact figures and the chart that suits its kind."""
    names = visible(cols)
    if not names:
        return
    column = pick(st, "Column", names, f"profile_col_{sl.dataset}")
    stats = state.query(explore.column_stats, sl, column, cols[column], datasets=(sl.dataset,))
    scale = columns.factor(column) if column in kinds["numeric"] else 1.0
    c = layout.tiles("column", 5)
    c[0].metric("Type", stats.type, border=True)
    c[1].metric(
        "Missing",
        f"{stats.null_pct:.1f} %",
        border=True,
        help=f"{stats.rows - stats.non_null:,} of {ui.plural(stats.rows, 'row')} are empty",
    )
    c[2].metric("Distinct values", f"{stats.distinct:,}", border=True)
    for tile, name, figure in ((c[3], "Minimum", stats.minimum), (c[4], "Maximum", stats.maximum)):
        shown = figure * scale if scale != 1.0 and figure is not None else figure
        # A time as the page writes times (`2026-11-09 14:30 UTC`), breaking between its
        # date and its time in a narrow tile, not inside its offset.
        text = ui.moment(shown) if isinstance(shown, datetime) else explore.readable(shown)
        tile.metric(name, str(text or ui.MISSING), border=True)
    show_sql(*explore.column_stats_sql(sl, column))
    if column in kinds["numeric"]:
        data = state.query(aggregates.sample, sl, (column,), datasets=(sl.dataset,))
        figure = plots.histogram(columns.frame(data), column, label(column))
        st.plotly_chart(figure, key="column_histogram")
        show_sql(*aggregates.sample_sql(sl, (column,)))
    elif column in kinds["time"] and sl.time_column is not None:
        by_day = dataclasses.replace(sl, time_column=column)
        per_day = state.query(aggregates.series, by_day, None, bucket="day", datasets=(sl.dataset,))
        figure = plots.lines(
            per_day, "bucket", "value", None, "Rows per day", **window_args(sl, "day", counts=True)
        )
        utc = "TIME ZONE" in cols[column].upper()
        figure.update_xaxes(title_text=plots.time_title(label(column), "day", utc))
        st.plotly_chart(figure, key="column_series")
        show_sql(*aggregates.series_sql(by_day, None, bucket="day"))
    else:
        top = state.query(aggregates.top_values, sl, column, 15, datasets=(sl.dataset,))
        st.plotly_chart(
            plots.bars(top, "value", "rows", horizontal=True, titles=(label(column), "Rows")),
            key="column_top",
        )
        show_sql(*aggregates.top_values_sql(sl, column, 15))


def data_tab(sl: explore.Slice, cols: dict[str, str], total: int) -> None:
    all_cols = list(cols)
    chosen = st.multiselect(
        "Columns",
        all_cols,
        default=visible(all_cols),
        key=f"data_cols_{sl.dataset}",
        format_func=label,
    )
    a, b, c = st.columns([1, 1, 2], vertical_alignment="bottom")
    per_page = a.selectbox("Rows per page", [25, 50, 100, 250, 500], index=2, key="data_per_page")
    pages = max(1, -(-total // per_page))
    number = b.number_input("Page", min_value=1, max_value=pages, value=1, key="data_page")
    c.caption(f"Page {number} of {pages:,} · {ui.plural(total, 'row')}, newest first")
    if not chosen:
        st.info("Pick at least one column.", icon=":material/info:")
        return
    rows = state.query(
        explore.page,
        sl,
        tuple(chosen),
        datasets=(sl.dataset,),
        offset=(number - 1) * per_page,
        limit=per_page,
    )
    columns.show(rows)
    left, right = st.columns(2)
    for col, fmt, name, mime in (
        (left, "csv", "CSV", "text/csv"),
        (right, "parquet", "Parquet", "application/vnd.apache.parquet"),
    ):
        data, cut = state.query(explore.export, sl, tuple(chosen), fmt, datasets=(sl.dataset,))
        col.download_button(
            f"Download {name}",
            data,
            file_name=f"{sl.dataset}.{fmt}",
            mime=mime,
            icon=":material/download:",
            key=f"download_{fmt}",
            help="The rows of the time window, with the chosen columns as stored"
            + (f" (first {explore.EXPORT_MAX_ROWS:,})" if cut else ""),
        )


def render() -> None:
    ui.header("Explore", "Any committed dataset, including files ingested from a bucket.")
    name = pick_dataset()
    if name is None:
        ui.empty_state("No dataset has been committed yet.")
        return
    if describe(name):
        st.caption(describe(name))
    # Every tab reads this dataset: a small one is read whole once (a HEAD and a GET per
    # file), where each query would read its row groups one request at a time.
    lake = state.lake()
    lake.prefetch(files.whole(lake.snapshots[name].files))
    cols = state.query(explore.dataset_columns, name, datasets=(name,))
    sl, newest = slice_for(name, cols)
    total = tiles(name, sl, cols, newest)
    if total == 0:
        st.info("No rows in this window. Choose a longer window.", icon=":material/filter_alt_off:")
        return
    kinds = explore.kinds(cols)
    tabs: dict[str, Callable[[], None]] = {
        "Summary": lambda: summary_tab(sl, cols, kinds),
        "Distributions": lambda: distribution_tab(sl, kinds),
        "Relations": lambda: relations_tab(sl, kinds),
        "Time series": lambda: series_tab(sl, cols, kinds),
        "Columns": lambda: columns_tab(sl, cols, kinds),
        "Data": lambda: data_tab(sl, cols, total),
    }
    ui.open_tab(tabs, "explore_tab")


state.guarded(render)
