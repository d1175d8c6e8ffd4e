"""Empty states that give the true reason and the next step.

An empty tab can mean four different things: the API plan does not include the endpoint (the
Finnhub ingest records each HTTP 403 in its run manifest), the dataset was never fetched, it
was fetched but not cleaned yet, or it is committed but has no rows for this symbol or range.
"""

from __future__ import annotations

import streamlit as st

from bucketpipe.app import state, ui
from bucketpipe.serve.queries import pipeline

FETCH_HINT = (
    "Fetch it with `bucketpipe ingest finnhub` (or `bucketpipe ingest demo`), then run "
    "`bucketpipe clean`."
)


def refused(dataset: str) -> bool:
    """The newest ingest run that asked for the dataset got HTTP 403 (not in the plan)."""
    return (
        state.timed(pipeline.availability, dataset, state.lake().endpoints).status == "not_entitled"
    )


def reason(dataset: str, what: str, scope: str) -> tuple[str, str]:
    """(headline, what to do) for `what` missing from `dataset` in `scope`."""
    if not state.lake().has(dataset):
        seen = state.timed(pipeline.availability, dataset, state.lake().endpoints)
        if seen.status == "not_entitled":
            when = f" (HTTP 403 on {ui.day(seen.at)})" if seen.at is not None else ""
            return (
                f"{what.capitalize()}: not in your Finnhub plan{when}.",
                "The API key's plan does not include this endpoint. A plan that includes it "
                "lifts the block at the next ingest after the entitlement retry period "
                "(`FINNHUB_ENTITLEMENT_RETRY_HOURS`).",
            )
        if seen.status in ("ok", "skipped", "not_due"):
            return (
                f"{what.capitalize()}: fetched but not cleaned yet.",
                "Run `bucketpipe clean` to commit the fetched data.",
            )
        if seen.status == "failed":
            return (
                f"{what.capitalize()}: the last fetch failed.",
                f"{ui.text(seen.message or 'See the Pipeline page.')} The next ingest tries again.",
            )
        return f"{what.capitalize()}: not fetched yet.", FETCH_HINT
    return (
        f"No {what} {scope}.",
        f"The `{dataset}` dataset is committed but has no rows {scope}; the source has "
        "none to report, or a wider range may show some.",
    )


def show(dataset: str, what: str, scope: str) -> None:
    headline, todo = reason(dataset, what, scope)
    st.info(f"**{headline}**\n\n{todo}", icon=":material/inbox:")
