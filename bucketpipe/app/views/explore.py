"""Explore: any committed dataset, sliced by time, summarised, charted, paged and downloaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from bucketpipe.app import plots, state, ui
from bucketpipe.serve.queries import aggregates, explore, files, quality
from bucketpipe.serve.queries.base import runnable, visible
from bucketpipe.serve.reader import describe


def show_sql(sql: str, params: list[Any]) -> None:
    """The query behind the figures above, runnable as is on the SQL page or `bucketpipe sql`."""
    with st.expander("Show SQL", icon=":material/code:"):
        st.code(runnable(sql, params), language="sql", wrap_lines=True)


def pick_dataset() -> str | None:
    lake = state.lake()
    snapshots = sorted(lake.snapshots.values(), key=lambda s: s.created_at, reverse=True)
    if not snapshots:
        return None
    labels = {
        s.dataset: f"{s.dataset}  ·  {s.rows:,} rows  ·  {ui.age(s.created_at)}" for s in snapshots
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


def slice_for(name: str, cols: dict[str, str]) -> explore.Slice:
    column = explore.time_column(name, cols)
    whole = explore.Slice(name, column)
    if column is None:
        st.caption("This dataset has no time column: every row is shown.")
        return whole
    _, newest = state.query(explore.time_bounds, whole, datasets=(name,))
    window = (
        st.segmented_control(
            "Time window",
            list(explore.WINDOWS),
            default="All",
            key=f"explore_window_{name}",
            help=f"Rows whose `{column}` lies in the window ending at the newest row.",
        )
        or "All"
    )
    st.caption(f"Filtering on `{column}`; newest row: {ui.when(newest)}.")
    return explore.Slice(name, column, explore.window(newest, window), None)


def tiles(name: str, sl: explore.Slice, cols: dict[str, str]) -> int:
    lake = state.lake()
    snap = lake.snapshots[name]
    rows = state.query(explore.count, sl, datasets=(name,))
    score = state.timed(quality.latest_score, name)
    c = st.columns(4)
    c[0].metric("Rows", f"{rows:,}", help=f"{snap.rows:,} in the whole dataset", border=True)
    c[1].metric(
        "Columns",
        len(visible(cols)),
        help="Lineage and partition columns not counted.",
        border=True,
    )
    c[2].metric(
        "Quality score",
        f"{score:.1f} %" if score is not None else "n/a",
        border=True,
        help="Overall score of the newest quality report (see the Quality page).",
    )
    c[3].metric(
        "Data age",
        ui.age(snap.created_at),
        help=f"Committed {ui.when(snap.created_at)}",
        border=True,
    )
    show_sql(*explore.count_sql(sl))
    return rows


def summary_tab(sl: explore.Slice, cols: dict[str, str], kinds: dict[str, list[str]]) -> None:
    shown = visible(cols)
    stats = state.query(explore.profile, sl, tuple(shown), datasets=(sl.dataset,))
    st.markdown("**Summary statistics**")
    st.dataframe(
        explore.tidy_profile(stats),
        hide_index=True,
        column_config={
            "distinct": st.column_config.TextColumn(
                "distinct",
                help=f"Exact up to {explore.EXACT_DISTINCT_MAX:,}; above it an estimate, "
                "marked \u2248.",
            ),
            "null_pct": st.column_config.NumberColumn("null %", format="%.1f %%"),
            "count": st.column_config.NumberColumn("rows", format="localized"),
            # Wide enough for a type name and a timestamp without cutting them.
            "type": st.column_config.TextColumn("type", width=110),
            "min": st.column_config.TextColumn("min", width="medium"),
            "max": st.column_config.TextColumn("max", width="medium"),
        },
    )
    sql, params = sl.select(shown)
    exact, _ = explore.distinct_sql(sl, shown)
    show_sql(f"SUMMARIZE {sql};\n\n{exact}", params)
    if kinds["categorical"]:
        column = st.selectbox("Top values of", kinds["categorical"], key="explore_top_col")
        top = state.query(aggregates.top_values, sl, column, datasets=(sl.dataset,))
        st.plotly_chart(
            plots.bars(top, "value", "rows", horizontal=True, titles=(column, "rows")),
            key="top_values",
        )


def distribution_tab(sl: explore.Slice, kinds: dict[str, list[str]]) -> None:
    numeric = kinds["numeric"]
    if not numeric:
        st.info("This dataset has no numeric columns.", icon=":material/info:")
        return
    data = state.query(
        aggregates.sample, sl, tuple(numeric + kinds["categorical"]), datasets=(sl.dataset,)
    )
    left, right = st.columns(2)
    column = left.selectbox("Column", numeric, key="explore_hist_col")
    with left:
        st.plotly_chart(plots.histogram(data, column), key="histogram")
    kind = (
        right.segmented_control("Plot", ["box", "violin"], default="box", key="explore_dist")
        or "box"
    )
    by = right.selectbox(
        "Split by",
        [None, *kinds["categorical"]],
        key="explore_dist_by",
        format_func=lambda c: "(no split)" if c is None else c,
    )
    with right:
        st.plotly_chart(plots.distribution(data, column, by, kind), key="distribution")
    st.caption(f"Charts use a sample of up to {len(data):,} rows.")


def relations_tab(sl: explore.Slice, kinds: dict[str, list[str]]) -> None:
    numeric = kinds["numeric"]
    data = state.query(
        aggregates.sample, sl, tuple(numeric + kinds["categorical"]), datasets=(sl.dataset,)
    )
    if len(numeric) >= 2:
        a, b, c, d = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
        x = a.selectbox("X", numeric, key="explore_x")
        y = b.selectbox("Y", numeric, index=1, key="explore_y")
        colour = c.selectbox(
            "Colour by",
            [None, *kinds["categorical"]],
            key="explore_colour",
            format_func=lambda v: "(none)" if v is None else v,
        )
        trend = d.toggle("Trend line", value=True, key="explore_trend")
        st.plotly_chart(plots.scatter(data, x, y, colour, trend), key="scatter")
        matrix = aggregates.correlations(data, numeric)
        if not matrix.empty:
            st.plotly_chart(plots.heatmap(matrix, "Correlation (Pearson)"), key="correlation")
    else:
        st.info("A scatter plot and correlations need two numeric columns.", icon=":material/info:")
    dims = kinds["categorical"] + kinds["time"]
    if kinds["categorical"] and len(dims) >= 2:
        st.markdown("**Pivot heatmap**")
        a, b, c, d = st.columns(4)
        rows = a.selectbox("Rows", kinds["categorical"], key="pivot_rows")
        others = [x for x in dims if x != rows]
        first_time = next((i for i, x in enumerate(others) if x in kinds["time"]), 0)
        cols = b.selectbox("Columns", others, index=first_time, key="pivot_cols")
        value = c.selectbox(
            "Value",
            [None, *numeric],
            key="pivot_value",
            format_func=lambda v: "row count" if v is None else v,
        )
        agg = d.selectbox(
            "Aggregate", list(aggregates.AGGREGATES), key="pivot_agg", disabled=value is None
        )
        matrix = state.query(
            aggregates.pivot,
            sl,
            rows,
            cols,
            value,
            agg,
            cols_are_time=cols in kinds["time"],
            datasets=(sl.dataset,),
        )
        if not matrix.empty:
            title = f"{'rows' if value is None else f'{agg} of {value}'} by {rows} and {cols}"
            measure = "rows" if value is None else f"{agg} of {value}"
            figure = plots.heatmap(matrix, title, zmid=None, axes=(cols, rows))
            figure.update_layout(coloraxis_colorbar_title_text=measure)
            st.plotly_chart(figure, key="pivot")
        sql, params = aggregates.pivot_sql(
            sl, rows, cols, value, agg, cols_are_time=cols in kinds["time"]
        )
        show_sql(sql, params)


ALL_TOGETHER = "(all together)"


def series_tab(sl: explore.Slice, kinds: dict[str, list[str]]) -> None:
    if sl.time_column is None:
        st.info("This dataset has no time column.", icon=":material/info:")
        return
    start, end = state.query(explore.time_bounds, sl, datasets=(sl.dataset,))
    a, b, c, d = st.columns(4)
    value = a.selectbox(
        "Value",
        [None, *kinds["numeric"]],
        key="series_value",
        format_func=lambda v: "row count" if v is None else v,
    )
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
    by = d.selectbox(
        "Split by",
        splits,
        index=splits.index(entity),
        key="series_by",
        format_func=lambda v: ALL_TOGETHER if v is None else v,
        help=f"One line for each of the {SERIES_GROUPS} most frequent values, the rest pooled "
        f"as '{aggregates.OTHERS}'; {ALL_TOGETHER} aggregates every row into one line.",
    )
    data = state.query(
        aggregates.series,
        sl,
        value,
        bucket=bucket,
        agg=agg,
        by=by,
        max_groups=SERIES_GROUPS,
        datasets=(sl.dataset,),
    )
    if data.empty:
        st.info("No rows in the window.", icon=":material/info:")
        return
    measure = "rows" if value is None else f"{agg} of {value}"
    scope = f"per {by}" if by else "over all rows together"
    figure = plots.lines(data, "bucket", "value", "group" if by else None, measure, by)
    figure.update_layout(title=f"{measure} per {bucket}, {scope}", margin={"t": 50})
    figure.update_xaxes(title_text=f"{sl.time_column} ({bucket}, UTC)")
    st.plotly_chart(figure, key="series")
    sql, params = aggregates.series_sql(
        sl, value, bucket=bucket, agg=agg, by=by, max_groups=SERIES_GROUPS
    )
    show_sql(sql, params)


SERIES_GROUPS = 8


def columns_tab(sl: explore.Slice, cols: dict[str, str], kinds: dict[str, list[str]]) -> None:
    """One column at a time: exact figures and the chart that suits its kind."""
    names = visible(cols)
    if not names:
        return
    column = st.selectbox("Column", names, key=f"profile_col_{sl.dataset}")
    stats = state.query(explore.column_stats, sl, column, cols[column], datasets=(sl.dataset,))
    c = st.columns(5)
    c[0].metric("Type", stats.type, border=True)
    c[1].metric(
        "Missing",
        f"{stats.null_pct:.1f} %",
        border=True,
        help=f"{stats.rows - stats.non_null:,} of {stats.rows:,} rows are empty",
    )
    c[2].metric("Distinct values", f"{stats.distinct:,}", border=True)
    c[3].metric("Minimum", str(explore.readable(stats.minimum)), border=True)
    c[4].metric("Maximum", str(explore.readable(stats.maximum)), border=True)
    show_sql(*explore.column_stats_sql(sl, column))
    if column in kinds["numeric"]:
        data = state.query(aggregates.sample, sl, (column,), datasets=(sl.dataset,))
        st.plotly_chart(plots.histogram(data, column), key="column_histogram")
    elif column in kinds["time"] and sl.time_column is not None:
        per_day = state.query(
            aggregates.series,
            explore.Slice(sl.dataset, column, sl.start, sl.end),
            None,
            bucket="day",
            datasets=(sl.dataset,),
        )
        st.plotly_chart(
            plots.lines(per_day, "bucket", "value", None, "rows per day"), key="column_series"
        )
    else:
        top = state.query(aggregates.top_values, sl, column, 15, datasets=(sl.dataset,))
        st.plotly_chart(
            plots.bars(top, "value", "rows", horizontal=True, titles=(column, "rows")),
            key="column_top",
        )


def data_tab(sl: explore.Slice, cols: dict[str, str], total: int) -> None:
    all_cols = list(cols)
    chosen = st.multiselect(
        "Columns", all_cols, default=visible(all_cols), key=f"data_cols_{sl.dataset}"
    )
    a, b, c = st.columns([1, 1, 2], vertical_alignment="bottom")
    per_page = a.selectbox("Rows per page", [25, 50, 100, 250, 500], index=2, key="data_per_page")
    pages = max(1, -(-total // per_page))
    number = b.number_input("Page", min_value=1, max_value=pages, value=1, key="data_page")
    c.caption(f"Page {number} of {pages:,} · {total:,} rows, newest first")
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
    st.dataframe(rows, hide_index=True)
    left, right = st.columns(2)
    for col, fmt, mime in (
        (left, "csv", "text/csv"),
        (right, "parquet", "application/vnd.apache.parquet"),
    ):
        data, cut = state.query(explore.export, sl, tuple(chosen), fmt, datasets=(sl.dataset,))
        col.download_button(
            f"Download {fmt.upper()}",
            data,
            file_name=f"{sl.dataset}.{fmt}",
            mime=mime,
            icon=":material/download:",
            key=f"download_{fmt}",
            help="The rows of the time window, with the chosen columns"
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
    sl = slice_for(name, cols)
    total = tiles(name, sl, cols)
    if total == 0:
        st.info("No rows in this window. Choose a longer window.", icon=":material/filter_alt_off:")
        return
    kinds = explore.kinds(cols)
    tabs: dict[str, Callable[[], None]] = {
        "Summary": lambda: summary_tab(sl, cols, kinds),
        "Distributions": lambda: distribution_tab(sl, kinds),
        "Relations": lambda: relations_tab(sl, kinds),
        "Time series": lambda: series_tab(sl, kinds),
        "Columns": lambda: columns_tab(sl, cols, kinds),
        "Data": lambda: data_tab(sl, cols, total),
    }
    ui.open_tab(tabs, "explore_tab")


state.guarded(render)
