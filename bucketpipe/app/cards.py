"""Small components several pages share."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from bucketpipe.app import ui


def article(row: pd.Series) -> None:
    """One article as a card: linked headline, category, source, time, summary. Every field
    is the API's text, shown as it is (`ui.text`), and the link only to a web address."""
    with st.container(border=True):
        headline = row.get("headline")
        title = str(headline) if ui.present(headline) else "(no headline)"
        st.markdown(f"**{ui.link(title, row.get('url'))}**")
        meta = [ui.text(row["source"])] if ui.present(row.get("source")) else []
        meta.append(ui.when(row.get("published_at")))
        if ui.present(row.get("category")):
            meta.insert(0, ui.pill(str(row["category"]), "blue"))
        if ui.present(row.get("related")):
            meta.append(f"related: {ui.text(row['related'])}")
        st.caption(" · ".join(meta))
        if ui.present(row.get("summary")):
            st.markdown(ui.text(str(row["summary"])[:300]))


def facts(rows: dict[str, Any]) -> bool:
    """The known facts of `rows` as a bulleted list (none missing; each value as it is);
    whether there were any."""
    shown = {k: v for k, v in rows.items() if v not in (None, "", ui.MISSING)}
    if shown:
        st.markdown("\n".join(f"- **{k}**: {ui.text(v)}" for k, v in shown.items()))
    return bool(shown)


def millions(value: Any) -> str | None:
    """An amount Finnhub gives in millions, written compact (`2.9 T`, the unit held to its
    number by a no-break space: a narrow card wrapped between them); None when missing."""
    if value is None or pd.isna(value):
        return None
    return ui.compact(float(value) * 1e6).replace(" ", "\u00a0")


def span(low: Any, high: Any) -> str | None:
    """`low to high`; None unless both are known."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None
    return f"{ui.number(low)} to {ui.number(high)}"
