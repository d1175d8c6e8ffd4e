"""Quality: per-dataset scores over time, dimensions, thresholds, recommendations, quarantine."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from bucketpipe.app import columns, layout, runcharts, state, ui
from bucketpipe.quality import wording
from bucketpipe.quality.report import DIMENSIONS, REPORTS_DATASET, QualityReport
from bucketpipe.quality.wording import quantity
from bucketpipe.serve.queries import quality

QUALITY_HINT = "Every `bucketpipe clean` run writes a quality report per dataset it touched."


def committed_rows() -> dict[str, int]:
    """Each dataset's rows now, from its committed snapshot (as `SELECT count(*)` counts)."""
    return {name: snap.rows for name, snap in state.lake().snapshots.items()}


def summary(reports: dict[str, QualityReport], committed: dict[str, int]) -> None:
    table = quality.overview(reports, committed)
    passing = int(table["passed"].sum())
    mean = table["overall_score"].mean()
    c = layout.tiles("summary", 4)
    c[0].metric("Datasets assessed", len(table), border=True)
    c[1].metric("Passing every threshold", f"{passing} of {len(table)}", border=True)
    c[2].metric("Average score", wording.score_text(mean), border=True)
    c[3].metric(
        "Rows rejected",
        f"{int(table['quarantined'].sum()):,}",
        border=True,
        help="Distinct rows the newest run of each dataset rejected (the table's Rejected "
        "column, added up). All are in quarantine; "
        "a row an earlier run had already quarantined for the same reason is not stored again.",
    )
    ui.dataframe(
        table,
        hide_index=True,
        column_order=[
            "dataset",
            "overall_score",
            "completeness",
            "uniqueness",
            "consistency",
            "validity",
            "passed",
            "rows",
            "rows_assessed",
            "quarantined",
            "duplicates_removed",
            "recommendations",
            "created_at",
        ],
        column_config={
            "dataset": st.column_config.TextColumn("Dataset", width="medium", pinned=True),
            "rows": st.column_config.NumberColumn(
                "Rows",
                format="localized",
                help="Rows in the dataset now (its committed snapshot; what "
                "`SELECT count(*)` counts; 0 while nothing is committed).",
            ),
            "rows_assessed": st.column_config.NumberColumn(
                "Rows scored",
                format="localized",
                help="Rows the newest clean run delivered, one per key: what the scores "
                "describe (not the whole dataset).",
            ),
            "recommendations": st.column_config.NumberColumn(
                "Recommendations",
                help="Things to act on in the newest report (information, such as "
                "duplicates removed, is not counted).",
            ),
            "overall_score": st.column_config.ProgressColumn(
                "Score", min_value=0, max_value=100, format="%.2f %%", color=ui.ACCENT
            ),
            "completeness": st.column_config.NumberColumn("Completeness", format="%.2f %%"),
            "uniqueness": st.column_config.NumberColumn("Uniqueness", format="%.2f %%"),
            "consistency": st.column_config.NumberColumn("Consistency", format="%.2f %%"),
            "validity": st.column_config.NumberColumn("Validity", format="%.2f %%"),
            "passed": st.column_config.CheckboxColumn("All met"),
            "quarantined": st.column_config.NumberColumn(
                "Rejected",
                format="localized",
                help="Distinct rows of the newest run's input the rules rejected.",
            ),
            "duplicates_removed": st.column_config.NumberColumn(
                "Duplicates removed",
                format="localized",
                help="Repeats of a key in the input or of a committed row: information, not "
                "a failure (scores describe the deduplicated rows readers get).",
            ),
            "created_at": st.column_config.DatetimeColumn("Assessed", format="YYYY-MM-DD HH:mm z"),
        },
    )


def detail(report: QualityReport, committed: int | None) -> None:
    now = (
        f"{quantity(committed, 'row')} in the dataset now"
        if committed is not None
        else "the dataset has no committed rows now"
    )
    per_key = (
        f"one per key ({', '.join(report.key)})"
        if report.key
        else "each distinct row once (the dataset has no key: a corrected value is a new row "
        "beside the old one; docs/cleaning.md says how to give it one)"
    )
    unchanged = wording.unchanged_rows(report)
    parts = (
        f": {report.rows_written:,} written and {unchanged:,} equal to the committed row"
        if unchanged
        else ""
    )
    st.caption(
        f"The newest report, of clean run `{report.run_id}` ({ui.when(report.created_at)}), "
        f"scores the {quantity(report.rows, 'row')} that run delivered, {per_key}{parts} "
        f"({now}). Its input: {wording.breakdown(report)}."
    )
    dims = quality.dimensions(report)
    left, right = st.columns([2, 3])
    with left:
        # The bars' labels have one decimal: never 100.0 for a score below 100.
        shown = dims.assign(score=[wording.score_value(v, 1) for v in dims["score"]])
        st.altair_chart(runcharts.dimension_bars(shown), key="dimensions")
    with right:
        for _, row in dims.iterrows():
            mark = ui.pill(
                "met" if row["passed"] else "not met", "green" if row["passed"] else "red"
            )
            st.markdown(
                f"**{row['dimension'].capitalize()}** {wording.score_text(row['score'])} "
                f"(threshold {row['threshold']:g} %) {mark}"
            )
            st.caption(f"{row['definition']}: {row['counted']}")
    st.markdown("**Recommendations**")
    todo = wording.actions(report)
    if todo:
        # Column names and reasons in them come from the data: shown as written.
        st.markdown("\n".join(f"- {ui.text(r)}" for r in todo))
    else:
        st.caption(wording.ALL_CLEAR if report.passed else "None.")
    notes = wording.notes(report)
    if notes:
        st.caption("For information: " + " ".join(notes))
    with st.expander("Column profile"):
        profile = quality.column_profiles(report)
        figures = ["min", "max", "mean"]
        profile[figures] = profile[figures].fillna(ui.MISSING)  # a figure the column has not
        ui.dataframe(profile, hide_index=True, column_config=PROFILE_CONFIG)
    if report.steps:
        st.caption("Cleaning steps applied: " + "; ".join(wording.steps(report)))


PROFILE_CONFIG: dict[str, Any] = {
    "column": st.column_config.TextColumn("Column"),
    "type": st.column_config.TextColumn("Type"),
    "empty_pct": st.column_config.NumberColumn(
        "Empty", format="%.1f %%", help="Share of the scored rows with no value."
    ),
    "due": st.column_config.TextColumn(
        "Value due in",
        help="The rows where the column should have a value. Some columns are empty by "
        "definition elsewhere (an actual before its release, an indicator before its window "
        "fills); completeness counts only the rows where a value is due.",
    ),
    "distinct": st.column_config.TextColumn(
        "Distinct values",
        help="Exact up to 1,000,000 scored rows; above, an estimate marked ≈ (it can be off "
        "by a fifth), never more than the column's non-empty values.",
    ),
    "min": st.column_config.TextColumn("Minimum", width="medium"),
    "max": st.column_config.TextColumn("Maximum", width="medium"),
    "mean": st.column_config.TextColumn("Mean"),
    "top_values": st.column_config.TextColumn(
        "Most frequent (rows)", help="Up to three values, each with the rows that hold it."
    ),
    "issues": st.column_config.TextColumn(
        "Issues", width="medium", help="The cells behind the consistency score."
    ),
}


Chart = alt.Chart | alt.LayerChart | alt.FacetChart


def percent_to_100(chart: Chart) -> Chart:
    """A chart of scores whose percent axis ends at 100, not at the next round number above
    the room left for its lines (102): the scale is set on its first layer, which the other
    layers share."""
    first = chart.layer[0] if isinstance(chart, alt.LayerChart) else chart
    if isinstance(first, alt.Chart):
        first.encoding.y.scale = alt.Scale(domain=[0, 100], nice=False)
    return chart


def whole_counts(chart: alt.Chart) -> alt.Chart:
    """A count axis with whole-number ticks only (no 0.2 between 0 and 1)."""
    chart.encoding.x.axis = alt.Axis(format=",d", tickMinStep=1)
    return chart


# Labels of quarantined rows' columns that a name alone does not give.
QUARANTINE_LABELS = {"ts": "Time (UTC)"}


def rejected_rows(rows: pd.DataFrame) -> None:
    config = columns.config(rows)
    for name, text in QUARANTINE_LABELS.items():
        if name in config:
            config[name] = {**config[name], "label": text}
    ui.dataframe(columns.frame(rows), hide_index=True, column_config=config)


def score_history(dataset: str, limit: int = 50) -> pd.DataFrame:
    """The dataset's newest reports: just the month files of `quality_reports` that hold
    them, each read whole once per process (a version without report counts, or a lake
    without the dataset, is read the older way)."""
    lake = state.lake()
    held = lake.snapshots.get(REPORTS_DATASET)
    files = quality.history_files(held, (dataset,), limit) if held is not None else None
    if files is None:
        return state.timed(quality.history, (dataset,), limit, held)
    lake.prefetch([f.key for f in files])
    paths = [lake.store.duckdb_path(f.key) for f in files]
    # No view is needed: the files are named, and read from memory after the first time.
    return lake.run([], quality.history_rows, paths, (dataset,), limit)


def quarantine(dataset: str) -> None:
    st.subheader("Quarantine")
    keys = state.timed(quality.quarantine_keys, dataset)
    span = quality.quarantine_days(keys)
    if span is not None:
        st.caption(
            f"Rejected rows of the newest {quantity(len(keys), 'quarantine file')}, "
            f"{span[0]} to {span[1]} (at most "
            f"{quality.QUARANTINE_FILES} files of the newest {quality.QUARANTINE_DAYS} days "
            "that have any)."
        )
    days = quality.QUARANTINE_DAYS
    counts, _ = state.timed(quality.quarantine, dataset, 20, None, days, tuple(keys))
    if counts.empty:
        st.success("No row of this dataset has been quarantined.", icon=":material/check_circle:")
        return
    left, right = st.columns([1, 2])
    with left:
        st.metric(
            "Rows in quarantine",
            f"{int(counts['rows'].sum()):,}",
            border=True,
            help="Rows in the quarantine files named above (older rows stay in "
            "`quarantine/`; `bucketpipe status` counts them all).",
        )
        # The count first: a long reason in a third of the page would push it out of view.
        columns.show(counts, column_order=("rows", "reason"))
    with right:
        st.altair_chart(
            whole_counts(runcharts.count_bars(counts, "reason", "rows", ui.DOWN, "Rows")),
            key="quarantine_reasons",
        )
    reasons = list(counts["reason"])
    reason = st.selectbox(
        "Rejected rows",
        [None, *reasons],
        key=f"quarantine_reason_{dataset}",
        format_func=lambda r: "every reason" if r is None else r,
    )
    _, rows = state.timed(quality.quarantine, dataset, 20, reason, days, tuple(keys))
    st.caption(
        f"The newest {quantity(len(rows), 'rejected row')}, with the reason and the clean run."
    )
    rejected_rows(rows)


def render() -> None:
    ui.header(
        "Quality",
        "How complete, unique, consistent and valid each dataset is, and why rows were rejected.",
    )
    reports = state.timed(quality.latest)
    if not reports:
        ui.empty_state("No quality report yet.", QUALITY_HINT + " " + ui.LOAD_HINT)
        return
    committed = committed_rows()
    summary(reports, committed)
    names = sorted(reports)
    st.divider()
    wanted = st.query_params.get("dataset")
    worst_first = list(quality.overview(reports, committed)["dataset"])
    default = wanted if wanted in names else worst_first[0]
    dataset = st.selectbox("Dataset", names, index=names.index(default), key="quality_dataset")
    ui.not_found("the dataset", wanted, names, dataset)
    st.query_params["dataset"] = dataset
    history = score_history(dataset)
    st.subheader(dataset)
    st.markdown("**Score over time**")
    if len(history) > 1:
        st.altair_chart(
            percent_to_100(
                runcharts.score_lines(
                    history,
                    ["overall_score", *DIMENSIONS],
                    min(state.settings().quality_thresholds),
                )
            ),
            key="scores",
        )
    st.caption(
        f"{quantity(len(history), 'report')}, one per clean run that "
        f"touched {dataset}"
        + ("; the chart appears after the next one." if len(history) < 2 else ".")
    )
    detail(reports[dataset], committed.get(dataset))
    quarantine(dataset)


state.guarded(render)
