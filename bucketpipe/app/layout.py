"""Page-wide CSS that keeps the dashboard readable at 1280, 1024 and 390 px.

Streamlit sizes columns as equal fractions of the page, so five metric tiles at 1024 px (with
the sidebar open) get about 100 px each and their values end in "…". The rules below lay a
row of tiles (`tiles`) out as a grid of as many equal columns as fit, with the tiles of a line
equally tall (five tiles where four fit: four, then one of the same width below, not one
stretched across the page); other rows holding a tile wrap onto a second line. A tile's text
wraps at spaces rather than being cut, and the main area gets back the wide side padding on
narrow screens.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

TILE_MIN_WIDTH = "9.5rem"  # room for "Advancers / decliners" and "+1,234.57" at default size
TILES_KEY = "bp-tiles"  # the key of a row of tiles' container: its class is st-key-<key>
TILE_ROW = f'[class*="st-key-{TILES_KEY}-"] [data-testid="stHorizontalBlock"]'
CSS = f"""
<style>
{TILE_ROW} {{
  display: grid !important;
  grid-template-columns: repeat(auto-fit, minmax({TILE_MIN_WIDTH}, 1fr));
  gap: 1rem;
}}
{TILE_ROW} > [data-testid="stColumn"] {{
  width: auto !important;
  min-width: 0;
}}
{TILE_ROW} > [data-testid="stColumn"] > [data-testid="stVerticalBlock"],
{TILE_ROW} [data-testid="stElementContainer"]:has(> [data-testid="stMetric"]),
{TILE_ROW} [data-testid="stMetric"] {{
  height: 100%;
}}
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


def tiles(name: str, count: int) -> list[Any]:
    """`count` columns for a row of metric tiles, laid out as a grid (`name`: a name for the
    row, unique on its page)."""
    return list(st.container(key=f"{TILES_KEY}-{name}").columns(count))
