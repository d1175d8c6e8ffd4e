"""Small components several pages share."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bucketpipe.app import ui


def article(row: pd.Series) -> None:
    """One article as a card: linked headline, category, source, time, summary."""
    with st.container(border=True):
        url, headline = row.get("url"), row.get("headline")
        title = str(headline) if ui.present(headline) else "(no headline)"
        st.markdown(f"**[{title}]({url})**" if ui.present(url) else f"**{title}**")
        meta = [str(row["source"])] if ui.present(row.get("source")) else []
        meta.append(ui.when(row.get("published_at")))
        if ui.present(row.get("category")):
            meta.insert(0, ui.pill(str(row["category"]), "blue"))
        if ui.present(row.get("related")):
            meta.append(f"related: {row['related']}")
        st.caption(" · ".join(meta))
        if ui.present(row.get("summary")):
            st.write(str(row["summary"])[:300])
