"""Pipeline: run history, Finnhub endpoints, live status and events, objects in the lake."""

from __future__ import annotations

import streamlit as st

from bucketpipe.app import columns, layout, runcharts, state, ui
from bucketpipe.serve.queries import pipeline


def history() -> None:
    runs = state.timed(pipeline.run_history, 100)
    if runs.empty:
        ui.empty_state("No run has been committed yet.")
        return
    jobs = sorted(runs["job"].unique())
    chosen = st.pills("Jobs", jobs, selection_mode="multi", default=jobs, key="pipeline_jobs")
    shown = runs[runs["job"].isin(chosen or jobs)]
    failed = int((shown["status"] == "failed").sum())
    waiting = state.timed(pipeline.waiting_for_clean)
    c = layout.tiles("runs", 5)
    c[0].metric("Runs", len(shown), border=True)
    c[1].metric("Failed", failed, border=True)
    cleaned = shown[shown["job"] == "clean"]
    c[2].metric(
        "Rows cleaned",
        ui.compact(cleaned["rows"].sum()) if len(cleaned) else ui.MISSING,
        help="Rows the clean runs shown committed. An ingest run counts what it landed: "
        "files from a bucket, or raw records (one per API response).",
        border=True,
    )
    c[3].metric("Median duration", f"{shown['duration_s'].median():.1f} s", border=True)
    c[4].metric(
        "Waiting for clean",
        len(waiting),
        help="Committed ingest runs no clean run has consumed yet"
        + (f": {', '.join(waiting[:5])}" if waiting else "."),
        border=True,
    )
    st.altair_chart(runcharts.run_timeline(shown), key="timeline")
    ui.dataframe(
        # Inputs are what a clean run consumed: an ingest run has none to count (blank, not 0).
        shown.assign(inputs=shown["inputs"].where(shown["job"] == "clean")),
        hide_index=True,
        column_order=HISTORY_ORDER,
        column_config={
            "job": "Job",
            "source": "Source",
            "status": "Status",
            "inputs": st.column_config.NumberColumn(
                "Inputs", help="Ingest runs a clean run consumed."
            ),
            "datasets": "Datasets",
            "run_id": "Run ID",
            "started_at": st.column_config.DatetimeColumn(
                "Started", format="YYYY-MM-DD HH:mm:ss z"
            ),
            "finished_at": None,
            "duration_s": st.column_config.NumberColumn("Duration", format="%.2f s"),
            "rows": None,
            "output": st.column_config.TextColumn(
                "Output",
                help="Rows a clean run committed; files or raw records an ingest run landed.",
            ),
            "errors": st.column_config.NumberColumn("Errors"),
            "first_error": "First error",
        },
    )


HISTORY_ORDER = [
    *("job", "source", "run_id", "status", "started_at", "duration_s", "output"),
    *("inputs", "datasets", "errors", "first_error"),
]


def endpoints() -> None:
    recorded = state.lake().endpoints  # the lake index's accounts: no manifest to read
    if recorded is not None:
        table = pipeline.endpoint_table(recorded)
    else:
        table = pipeline.endpoint_report(state.timed(pipeline.ingest_manifests))
    if table.empty:
        st.info(
            "No Finnhub run yet: per-endpoint entitlement and errors appear after "
            "`bucketpipe ingest finnhub`.",
            icon=":material/info:",
        )
        return
    denied = table[table["status"] == "not_entitled"]
    if not denied.empty:
        st.warning(
            "Not in the API plan (HTTP 403), skipped for a while: " + ", ".join(denied["dataset"]),
            icon=":material/lock:",
        )
    ui.dataframe(
        table,
        hide_index=True,
        column_config=columns.config(table)
        | {
            "finished_at": st.column_config.DatetimeColumn(
                "Run finished", format="YYYY-MM-DD HH:mm z"
            ),
            "premium": st.column_config.CheckboxColumn("Premium"),
            "message": st.column_config.TextColumn("Message", width="large"),
            "http": st.column_config.TextColumn("HTTP replies"),
        },
    )


def live() -> None:
    lake = state.lake()
    if not lake.signals.configured:
        st.info(
            "Redis is off (`REDIS_URL` is not set): live status and events need it. "
            "The other tabs read the bucket and need no Redis.",
            icon=":material/info:",
        )
        return
    statuses = state.timed(pipeline.live_statuses)
    if lake.signals.state != "ok":
        st.warning(
            "Redis is not answering; showing what the bucket says.", icon=":material/wifi_off:"
        )
    st.markdown("**Live status**")
    if statuses.empty:
        st.caption("No job has reported a status yet.")
    else:
        ui.dataframe(statuses, hide_index=True, column_config=columns.config(statuses))
    st.markdown("**Recent events**")
    events = state.timed(pipeline.recent_events, 50)
    if events.empty:
        st.caption("The events stream is empty.")
    else:
        labels = columns.config(events)
        labels["at"] = st.column_config.DatetimeColumn("Time", format="YYYY-MM-DD HH:mm:ss z")
        ui.dataframe(events, hide_index=True, column_config=labels)


def objects() -> None:
    # Listing a bucket of 100,000s of objects costs a LIST request per 1,000: the page shows
    # the last census and the runs' counts since, and lists only when asked.
    heading = "Objects"
    if st.button("Count now", help="List the whole bucket (one request per 1,000 objects)."):
        counts = state.timed(pipeline.object_counts)
        st.caption(f"Counted now: {ui.plural(int(counts['objects'].sum()), 'object')}.")
    else:
        counts, count, census = state.timed(pipeline.counted_objects)
        when = ui.when(census.counted_at) if census else None
        objects = ui.plural(count.total, "object")
        st.caption(
            f"{objects}: the census of the last `bucketpipe compact` ({when}) "
            f"plus {count.since_census:,} the runs wrote since; sizes and newest changes as "
            "that census saw them."
            if census
            else f"{objects} written by the runs so far; objects rewritten in place (the "
            "jobs' `_state`, the rolled-up quality reports) and sizes come with the first "
            "census (`bucketpipe compact` takes one), or press Count now."
        )
        if census is None:
            heading = "Written by runs"
    counts = counts.assign(size=counts["bytes"].map(ui.size))
    ui.dataframe(
        counts[["area", "objects", "size", "newest"]],
        hide_index=True,
        column_config={
            "area": "Area",
            "size": "Size",
            "objects": st.column_config.NumberColumn(heading, format="localized"),
            "newest": st.column_config.DatetimeColumn("Newest change", format="YYYY-MM-DD HH:mm z"),
        },
    )
    st.caption(
        "raw: what ingest fetched · clean: typed Parquet · quarantine: rejected rows · "
        "_snapshots: committed file lists · _runs: run manifests · reports: quality reports"
    )


def render() -> None:
    ui.header("Pipeline", "Runs, endpoints, live signals and the lake's contents.")
    tabs = {
        "Run history": history,
        "Finnhub endpoints": endpoints,
        "Live (Redis)": live,
        "Lake objects": objects,
    }
    # The lake-object census lists the bucket and the live panel asks Redis: only when opened.
    ui.open_tab(tabs, "pipeline_tab")


state.guarded(render)
