"""The query behind a page's figures, shown beside them."""

from __future__ import annotations

from typing import Any

import streamlit as st

from bucketpipe.serve.queries.base import runnable


def show_sql(sql: str, params: list[Any]) -> None:
    """The query behind the figures above, runnable as is on the SQL page or `bucketpipe sql`."""
    with st.expander("Show SQL", icon=":material/code:"):
        st.code(runnable(sql, params), language="sql", wrap_lines=True)
