"""SQL: read-only queries over the datasets' views, run by the sandbox's worker processes."""

from __future__ import annotations

import streamlit as st

from bucketpipe.app import state, ui
from bucketpipe.config.errors import QueryRefused
from bucketpipe.serve.exports import csv_bytes
from bucketpipe.serve.queries import examples
from bucketpipe.serve.sandbox.limits import format_bytes

EDITOR = "sql_text"


def schema_browser(schema: dict[str, list[tuple[str, str]]]) -> None:
    st.markdown("**Datasets**")
    if not schema:
        st.caption("No dataset has been committed yet.")
    box = st.container(height=520, border=False)
    for view, cols in schema.items():
        with box.expander(f"{view} · {len(cols)} columns"):
            ui.dataframe(
                [{"column": c, "type": t} for c, t in cols], hide_index=True, height="content"
            )


def example_picker(views: list[str]) -> None:
    shown = examples.available(views)
    if not shown:
        return
    titles = [e.title for e in shown]
    choice = st.selectbox(
        "Example queries",
        [None, *titles],
        key="sql_example",
        format_func=lambda t: "Pick an example…" if t is None else t,
    )
    if choice is not None and st.session_state.get("sql_example_loaded") != choice:
        st.session_state[EDITOR] = next(e.sql for e in shown if e.title == choice)
        st.session_state["sql_example_loaded"] = choice


def results(max_rows: int) -> None:
    outcome = st.session_state.get("sql_outcome")
    if outcome is None:
        st.caption(
            "Results appear here. One read-only statement runs at a time (SELECT, WITH, "
            "DESCRIBE, SUMMARIZE, SHOW TABLES, PIVOT or EXPLAIN); every dataset is a view of "
            "the same name."
        )
        return
    if isinstance(outcome, str):
        # An error can quote the user's SQL or a value of the data: shown as written.
        st.error(ui.text(outcome), icon=":material/block:")
        return
    rows, cut, elapsed, frame = outcome
    if cut == "bytes":
        st.warning(
            f"Showing the first {rows:,} rows: the rest would pass the result cap of "
            f"{format_bytes(state.settings().sql_max_result_bytes)}. Select fewer columns, "
            "add a LIMIT or aggregate.",
            icon=":material/content_cut:",
        )
    elif cut:
        st.warning(
            f"Showing the first {rows:,} rows: the result has more (row cap {max_rows:,}). "
            "Add a LIMIT or aggregate to see everything.",
            icon=":material/content_cut:",
        )
    st.caption(f"{ui.plural(rows, 'row')} in {elapsed:.2f} s")
    ui.dataframe(frame, hide_index=True, placeholder="NULL")  # as SQL writes it
    st.download_button(
        "Download CSV",
        csv_bytes(frame),
        file_name="query.csv",
        mime="text/csv",
        icon=":material/download:",
        key="sql_download",
    )


def render() -> None:
    settings = state.settings()
    ui.header(
        "SQL",
        f"Read-only SQL over the committed datasets: at most {settings.sql_max_rows:,} rows, "
        f"stopped after {settings.sql_timeout_seconds:g} s, run in a sandboxed worker; no "
        "files, URLs, settings or secrets.",
    )
    sandbox = state.lake().sandbox()
    schema = sandbox.schema()
    editor, side = st.columns([3, 1])
    with side:
        example_picker(list(schema))
        schema_browser(schema)
    with editor:
        st.session_state.setdefault(EDITOR, "SHOW TABLES")
        with st.form("sql_form", border=False):
            sql = st.text_area(
                "Query",
                key=EDITOR,
                height=220,
                help="One read-only statement: SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, "
                "SHOW TABLES, PIVOT or EXPLAIN.",
            )
            left, right = st.columns([1, 3], vertical_alignment="bottom")
            cap = left.number_input(
                "Row cap",
                min_value=1,
                max_value=settings.sql_max_rows,
                value=min(1000, settings.sql_max_rows),
                step=100,
            )
            run = right.form_submit_button("Run", icon=":material/play_arrow:", type="primary")
        if run:
            try:
                result = sandbox.run(sql, max_rows=int(cap))
            except QueryRefused as exc:
                st.session_state["sql_outcome"] = str(exc)
            else:
                st.session_state["sql_outcome"] = (
                    result.rows,
                    result.cut,
                    result.elapsed_s,
                    result.frame,
                )
        results(int(cap))


state.guarded(render)
