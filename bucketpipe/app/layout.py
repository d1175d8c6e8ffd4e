"""Page-wide CSS that keeps the dashboard readable at 1280, 1024 and 390 px.

Streamlit sizes columns as equal fractions of the page, so five metric tiles at 1024 px (with
the sidebar open) get about 100 px each and their values end in "…". The rules below let a
row of tiles wrap onto a second line instead, let a tile's text wrap at spaces rather than be
cut, and give the main area back the wide side padding on narrow screens.
"""

from __future__ import annotations

import streamlit as st

TILE_MIN_WIDTH = "9.5rem"  # room for "Advancers / decliners" and "+1,234.57" at default size
CSS = f"""
<style>
[data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stMetric"]) {{
  flex-wrap: wrap;
  row-gap: 1rem;
}}
[data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stMetric"])
  > [data-testid="stColumn"] {{
  min-width: {TILE_MIN_WIDTH};
}}
[data-testid="stMetric"] * {{
  white-space: normal !important;
  text-overflow: clip !important;
  overflow: visible !important;
}}
[data-testid="stMetricValue"] {{
  font-size: clamp(1.4rem, 2.4vw, 2.25rem);
}}
@media (max-width: 1100px) {{
  [data-testid="stMainBlockContainer"] {{
    padding-left: 1.5rem;
    padding-right: 1.5rem;
  }}
}}
@media (max-width: 640px) {{
  [data-testid="stMainBlockContainer"] {{
    padding-left: 0.75rem;
    padding-right: 0.75rem;
    padding-top: 3rem;
  }}
}}
</style>
"""


def apply() -> None:
    """Add the stylesheet to the page (an invisible element; once per script run)."""
    st.html(CSS)
