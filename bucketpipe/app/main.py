"""The Bucketpipe dashboard: entry script (`bucketpipe dashboard` runs this file)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from bucketpipe.app import access, layout, sidebar, state, ui
from bucketpipe.config.errors import BucketpipeError
from bucketpipe.config.logs import mask

# One module per page in views/. Not pages/: a pages/ directory beside the entry script puts
# Streamlit in its older multipage mode, which can run a page without this script (no
# sidebar, no access check).
VIEWS = Path(__file__).resolve().parent / "views"

# No deploy button, and never a traceback in the browser (errors are logged server-side).
st.set_option("client.toolbarMode", "viewer")
st.set_option("client.showErrorDetails", "none")
# Grids without Streamlit's CSV download and copy, which write `=...` text as a formula; the
# pages' own downloads make it inert (`serve/exports.py`).
st.set_option("client.disableDataExport", True)
st.set_page_config(
    page_title="Bucketpipe",
    page_icon=ui.icon(),
    layout="wide",
    # Open on a desktop, closed on a phone (where it would cover the page).
    initial_sidebar_state="auto",
)
layout.apply()

try:
    settings = state.settings()
    access.require(settings)
    lake = state.lake()
except BucketpipeError as exc:
    st.error(f"The dashboard cannot start: {ui.text(mask(str(exc)))}", icon=":material/error:")
    st.stop()

if "seen_versions" not in st.session_state:
    # A new browser session: make sure the views are not older than one refresh interval.
    lake.poll(min_interval_s=settings.refresh_seconds)
    st.session_state["seen_versions"] = lake.versions()

navigation = st.navigation(
    {
        "Market": [
            st.Page(
                VIEWS / "overview.py", title="Overview", icon=":material/dashboard:", default=True
            ),
            st.Page(VIEWS / "stock.py", title="Stock", icon=":material/candlestick_chart:"),
            st.Page(VIEWS / "news.py", title="News & calendars", icon=":material/newspaper:"),
        ],
        "Data": [
            st.Page(VIEWS / "explore.py", title="Explore", icon=":material/travel_explore:"),
            st.Page(VIEWS / "quality.py", title="Quality", icon=":material/verified:"),
            st.Page(VIEWS / "sql.py", title="SQL", icon=":material/terminal:"),
        ],
        "Operations": [
            st.Page(VIEWS / "pipeline.py", title="Pipeline", icon=":material/account_tree:"),
        ],
    }
)
state.guarded(sidebar.render)
state.guarded(navigation.run)
