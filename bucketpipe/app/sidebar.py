"""The sidebar: per-service status, the refresh button and live refresh."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from bucketpipe.app import state, ui
from bucketpipe.serve.queries import pipeline


def render() -> None:
    """Services, data freshness, refresh controls."""
    lake = state.lake()
    settings = state.settings()
    with st.sidebar:
        st.markdown("#### Services")
        services = state.timed(pipeline.services, lake.services)
        if not services:
            st.caption("No runs yet. " + ui.LOAD_HINT)
        for service in services:
            _service(service)
        redis = "off" if not lake.signals.configured else lake.signals.state
        st.caption(f"Redis: {redis} · lake: `{lake.store.url}`")
        st.divider()
        left, right = st.columns([1, 1], vertical_alignment="center")
        if left.button("Refresh", icon=":material/refresh:", help="Re-read the lake now"):
            lake.sync(full=True)
            state.clear_timed()
            st.session_state["seen_versions"] = lake.versions()
            st.rerun()
        live = right.toggle(
            "Live",
            value=True,
            key="live_refresh",
            help=f"Check for newly committed data every {settings.refresh_seconds} s and "
            "update the page only when something changed.",
        )
        _live(settings.refresh_seconds if live else None)


def _service(service: pipeline.Service) -> None:
    with st.container(border=True):
        st.markdown(f"**{ui.text(service.name)}** {ui.pill(service.state, service.colour)}")
        when = ui.age(service.finished_at) if service.finished_at else "no finished run"
        st.caption(f"{when} · {ui.text(service.message)}" if service.message else when)


def _live(every: int | None) -> None:
    """Poll the data versions; rerun the whole app only when a commit changed them."""

    @st.fragment(run_every=every)
    def check() -> None:
        lake = state.lake()
        result = lake.poll(min_interval_s=(every or 2) / 2)
        seen = st.session_state.setdefault("seen_versions", result.versions)
        if result.versions != seen:
            st.session_state["seen_versions"] = result.versions
            state.clear_timed()
            st.rerun(scope="app")
        checked = datetime.now(UTC).strftime("%H:%M:%S UTC")
        if every:
            st.caption(f"Live: checked {checked} via {result.source}")
        else:
            st.caption("Live refresh is off")

    check()
