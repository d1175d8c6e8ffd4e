"""The News & calendars page: category filter, search, IPO and earnings calendars."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import AppFactory, DemoLake, no_errors

pytestmark = pytest.mark.integration


def shown_articles(app: AppTest) -> int:
    caption = next(str(c.value) for c in app.caption if "newest article" in str(c.value))
    return int(caption.split()[0])


def test_market_news_filters_by_category_and_search(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "news")
    no_errors(app)
    # Every article, not the newest 20: a category can have 20 of its own.
    app.selectbox(key="news_limit").set_value(200).run()
    everything = shown_articles(app)
    assert everything > 0
    categories = app.multiselect(key="news_categories")
    assert set(categories.options) >= {"general", "merger"}
    categories.set_value(["merger"]).run()
    merger = shown_articles(app)
    assert 0 < merger < everything
    assert ":blue-badge[general]" not in "\n".join(str(c.value) for c in app.caption)
    app.text_input(key="news_search").input("zzzz-no-such-words").run()
    assert any("No article matches" in str(i.value) for i in app.info)


def test_cards_read_newest_first_across_then_down(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    """Cards go two to a row: the page's reading order (and a phone's, where the columns of
    a row stack) is the articles' order, newest first, not the left column, then the right."""
    app = make_app(demo_lake, "news")
    no_errors(app)
    # Each card's caption states its publication time (`2026-12-04 14:30 UTC`).
    times = [
        found.group(0)
        for c in app.caption
        if (found := re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", str(c.value)))
    ]
    assert len(times) == 20 and times == sorted(times, reverse=True)
    assert times[0] > times[1]  # (the newest two differ, else the test could not fail)


def test_calendars_list_ipos_and_earnings(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "news")
    # Only the open tab runs: the calendars wait until theirs is opened.
    assert not [d for d in app.dataframe if "ipo_date" in d.value.columns]
    app.session_state["news_tab"] = "IPO calendar"
    app.run()
    no_errors(app)
    ipo = next(d.value for d in app.dataframe if "ipo_date" in d.value.columns)
    assert int(next(m.value for m in app.metric if m.label == "IPOs")) == len(ipo)
    app.session_state["news_tab"] = "Earnings calendar"
    app.run()
    no_errors(app)
    earnings = next(d.value for d in app.dataframe if "report_date" in d.value.columns)
    assert len(ipo) > 0 and len(earnings) > 0
    assert set(earnings["hour"].dropna()) <= {"before open", "after close", "during market"}


def test_empty_lake_explains_each_tab(make_app: AppFactory, empty_lake: DemoLake) -> None:
    app = make_app(empty_lake, "news")
    for tab, what in (
        ("Market news", "market news"),
        ("IPO calendar", "IPO calendar"),
        ("Earnings calendar", "earnings calendar"),
    ):
        app.session_state["news_tab"] = tab
        app.run()
        no_errors(app)
        info = "\n".join(str(i.value) for i in app.info)
        assert f"No {what} has been committed yet" in info
