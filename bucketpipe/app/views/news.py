"""News & calendars: market news with category filter and search, IPO and earnings calendars."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from bucketpipe.app import cards, columns, layout, state, ui
from bucketpipe.serve.queries import news


def news_tab() -> None:
    if not state.lake().has("market_news"):
        ui.empty_state("No market news has been committed yet.")
        return
    left, right, count = st.columns([2, 3, 1])
    categories = state.query(news.categories)
    chosen = left.multiselect(
        "Categories", categories, default=[], key="news_categories", placeholder="All categories"
    )
    search = right.text_input(
        "Search", key="news_search", placeholder="Words in the headline, summary or source"
    )
    limit = count.selectbox("Show", [20, 50, 100, 200], index=0, key="news_limit")
    articles = state.query(news.market_news, categories=tuple(chosen), search=search, limit=limit)
    if articles.empty:
        st.info("No article matches the filter.", icon=":material/search_off:")
        return
    st.caption(f"{ui.plural(len(articles), 'newest article')}")
    # A row of two cards at a time: newest first reads left to right, then down, and on a
    # phone (where columns stack) straight down, not first the left column, then the right.
    rows = [row for _, row in articles.iterrows()]
    for i in range(0, len(rows), 2):
        for place, row in zip(st.columns(2), rows[i : i + 2], strict=False):
            with place:
                cards.article(row)


def _window(view: str, key: str) -> tuple[date, date] | None:
    bounds = state.query(news.calendar_bounds, view, datasets=(view,))
    if bounds is None:
        return None
    first, last = bounds
    today = date.today()
    start = min(max(first, today - timedelta(days=7)), last)
    chosen = st.date_input("Dates", value=(start, last), min_value=first, max_value=last, key=key)
    if isinstance(chosen, tuple) and len(chosen) == 2:
        return chosen[0], chosen[1]
    return start, last


def ipo_tab() -> None:
    if not state.lake().has("ipo_calendar"):
        ui.empty_state("No IPO calendar has been committed yet.")
        return
    window = _window("ipo_calendar", "ipo_dates")
    if window is None:
        return
    table = state.query(news.ipo_calendar, window[0], window[1])
    if table.empty:
        st.info("No IPOs in these dates.", icon=":material/event_busy:")
        return
    statuses = table["status"].value_counts() if "status" in table else pd.Series(dtype=int)
    cols = layout.tiles("ipos", max(1, len(statuses) + 1))
    cols[0].metric("IPOs", len(table), border=True)
    for col, (status, n) in zip(cols[1:], statuses.items(), strict=False):
        col.metric(str(status).capitalize(), int(n), border=True)
    ui.dataframe(
        table,
        hide_index=True,
        column_config=columns.config(table)
        | {
            "ipo_date": st.column_config.DateColumn("Date", format="YYYY-MM-DD"),
            "listing": "Symbol",
            "name": "Company",
            "price_range": "Price range",
            "shares": st.column_config.NumberColumn("Shares", format="compact"),
            "total_value": st.column_config.NumberColumn("Value", format="compact"),
        },
    )


def earnings_tab() -> None:
    if not state.lake().has("earnings_calendar"):
        ui.empty_state("No earnings calendar has been committed yet.")
        return
    window = _window("earnings_calendar", "earnings_dates")
    if window is None:
        return
    table = state.query(news.earnings_calendar, window[0], window[1])
    if table.empty:
        st.info("No earnings releases in these dates.", icon=":material/event_busy:")
        return
    st.caption(f"{ui.plural(len(table), 'release')}; revenue in the reporting currency.")
    ui.dataframe(
        table,
        hide_index=True,
        column_config=columns.config(table)
        | {
            "report_date": st.column_config.DateColumn("Date", format="YYYY-MM-DD"),
            "hour": "When",
            "eps_estimate": st.column_config.NumberColumn("EPS estimate", format="%.2f"),
            "eps_actual": st.column_config.NumberColumn("EPS actual", format="%.2f"),
            "revenue_estimate": st.column_config.NumberColumn("Revenue est.", format="compact"),
            "revenue_actual": st.column_config.NumberColumn("Revenue", format="compact"),
        },
    )


def render() -> None:
    ui.header("News & calendars", "Market news by category, upcoming IPOs and earnings releases.")
    tabs = {"Market news": news_tab, "IPO calendar": ipo_tab, "Earnings calendar": earnings_tab}
    ui.open_tab(tabs, "news_tab")


state.guarded(render)
