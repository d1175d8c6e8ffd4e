"""Quality: per-dataset scores over time, dimensions, thresholds, recommendations, quarantine."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bucketpipe.app import columns, plots, state, ui
from bucketpipe.quality.report import DIMENSIONS, REPORTS_DATASET, QualityReport
from bucketpipe.serve.queries import quality

QUALITY_HINT = "Every `bucketpipe clean` run writes a quality report per dataset it touched."


def summary(reports: dict[str, QualityReport]) -> None:
    table = quality.overview(reports)
    passing = int(table["passed"].sum())
    mean = table["overall_score"].mean()
    c = st.columns(4)
    c[0].metric("Datasets assessed", len(table), border=True)
    c[1].metric("Passing every threshold", f"{passing} of {len(table)}", border=True)
    c[2].metric("Average score", f"{mean:.1f} %", border=True)
    c[3].metric(
        "Rows rejected",
        f"{int(table['quarantined'].sum()):,}",
        border=True,
        help="Distinct rows the newest run of each dataset rejected (the table's Rejected "
        "column, added up). All are in quarantine; "
        "a row an earlier run had already quarantined for the same reason is not stored again.",
    )
    st.dataframe(
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
            "quarantined",
            "duplicates_removed",
            "recommendations",
            "created_at",
        ],
        column_config={
            "dataset": st.column_config.TextColumn("Dataset", width="medium"),
            "rows": st.column_config.NumberColumn("Rows", format="localized"),
            "recommendations": st.column_config.NumberColumn("Recommendations"),
            "overall_score": st.column_config.ProgressColumn(
                "Score", min_value=0, max_value=100, format="%.1f %%", color=ui.ACCENT
            ),
            "completeness": st.column_config.NumberColumn("Completeness", format="%.1f %%"),
            "uniqueness": st.column_config.NumberColumn("Uniqueness", format="%.1f %%"),
            "consistency": st.column_config.NumberColumn("Consistency", format="%.1f %%"),
            "validity": st.column_config.NumberColumn("Validity", format="%.1f %%"),
            "passed": st.column_config.CheckboxColumn("All met"),
            "quarantined": st.column_config.NumberColumn(
                "Rejected", help="Distinct rows of the newest run's input the rules rejected."
            ),
            "duplicates_removed": st.column_config.NumberColumn(
                "Duplicates removed",
                help="Repeats of a key in the input or of a committed row: information, not "
                "a failure (scores describe the deduplicated rows readers get).",
            ),
            "created_at": st.column_config.DatetimeColumn("Assessed", format="YYYY-MM-DD HH:mm z"),
        },
    )


def detail(report: QualityReport) -> None:
    dims = quality.dimensions(report)
    left, right = st.columns([2, 3])
    with left:
        st.altair_chart(plots.dimension_bars(dims), key="dimensions")
    with right:
        for _, row in dims.iterrows():
            mark = ui.pill(
                "met" if row["passed"] else "not met", "green" if row["passed"] else "red"
            )
            st.markdown(
                f"**{row['dimension'].capitalize()}** {row['score']:.1f} % "
                f"(threshold {row['threshold']:g} %) {mark}"
            )
            st.caption(f"{row['definition']}: {row['counted']}")
    st.markdown("**Recommendations**")
    if report.recommendations:
        st.markdown("\n".join(f"- {r}" for r in report.recommendations))
    else:
        st.caption("None: nothing to fix in the newest run.")
    with st.expander("Column profile"):
        st.dataframe(quality.column_profiles(report), hide_index=True)
    if report.steps:
        st.caption("Cleaning steps applied: " + "; ".join(report.steps))


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
            f"Rejected rows of the newest {len(keys)} quarantine file"
            f"{'s' if len(keys) != 1 else ''}, {span[0]} to {span[1]} (at most "
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
        columns.show(counts)
    with right:
        st.altair_chart(
            plots.count_bars(counts, "reason", "rows", ui.DOWN, "Rows"),
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
    st.caption(f"The newest {len(rows)} rejected rows, with the reason and the clean run.")
    columns.show(rows)


def render() -> None:
    ui.header(
        "Quality",
        "How complete, unique, consistent and valid each dataset is, and why rows were rejected.",
    )
    reports = state.timed(quality.latest)
    if not reports:
        ui.empty_state("No quality report yet.", QUALITY_HINT + " " + ui.LOAD_HINT)
        return
    summary(reports)
    names = sorted(reports)
    st.divider()
    wanted = st.query_params.get("dataset")
    worst_first = list(quality.overview(reports)["dataset"])
    default = wanted if wanted in names else worst_first[0]
    dataset = st.selectbox("Dataset", names, index=names.index(default), key="quality_dataset")
    ui.not_found("the dataset", wanted, names, dataset)
    st.query_params["dataset"] = dataset
    history = score_history(dataset)
    st.subheader(dataset)
    st.markdown("**Score over time**")
    if len(history) > 1:
        st.altair_chart(
            plots.score_lines(
                history,
                ["overall_score", *DIMENSIONS],
                min(state.settings().quality_thresholds),
            ),
            key="scores",
        )
    st.caption(
        f"{len(history)} report{'s' if len(history) != 1 else ''}, one per clean run that "
        f"touched {dataset}"
        + ("; the chart appears after the next one." if len(history) < 2 else ".")
    )
    detail(reports[dataset])
    quarantine(dataset)


state.guarded(render)
