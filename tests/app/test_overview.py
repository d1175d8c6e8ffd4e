"""The Overview page against the demo lake, and its empty state."""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import AppFactory, DemoLake, metric, no_errors, sidebar_markdown

pytestmark = pytest.mark.integration


def test_overview_shows_the_market(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake)
    no_errors(app)
    assert app.title[0].value == "Market overview"
    assert metric(app, "Active stocks") == "7"
    assert metric(app, "Advancers / decliners").count("/") == 1
    assert metric(app, "Total volume") != "n/a"  # the demo has daily bars with volume
    table = app.dataframe[0].value
    assert sorted(table["symbol"]) == ["AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "TSLA"]
    assert table["trend"].map(len).min() >= 20  # a sparkline of the last days per symbol
    assert table["volume"].notna().all()  # the table has every volume the chart draws
    # Where the last price sits in the day's range, in whole percents of it (0 at the low).
    inside = (table["price"] - table["low"]) / (table["high"] - table["low"]) * 100
    assert table["range_position"].round(6).tolist() == inside.clip(0, 100).round(6).tolist()
    # The volume chart names the day its volumes are from (each symbol's newest bar).
    headings = [h.value for h in app.subheader]
    day = r"[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}"
    assert any(re.fullmatch(rf"Volume (on {day}|from {day} to {day})", h) for h in headings)
    assert len(app.get("vega_lite_chart")) >= 2
    # Freshness tiles: one per service and the newest quote.
    labels = [m.label for m in app.metric]
    assert {"clean", "ingest-demo", "Newest quote"} <= set(labels)


def test_sidebar_shows_each_service(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake)
    sidebar = sidebar_markdown(app)
    assert "**clean** :green-badge[succeeded]" in sidebar
    assert "**ingest-demo** :green-badge[succeeded]" in sidebar
    assert any("Redis: off" in str(c.value) for c in app.sidebar.caption)
    assert app.sidebar.toggle(key="live_refresh").value is True


def test_refresh_button_rereads_the_lake(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake)
    app.sidebar.button[0].click().run()
    no_errors(app)
    assert metric(app, "Active stocks") == "7"


def test_empty_lake_says_how_to_load_data(make_app: AppFactory, empty_lake: DemoLake) -> None:
    app = make_app(empty_lake)
    no_errors(app)
    info = "\n".join(str(i.value) for i in app.info)
    assert "No quotes have been committed yet" in info
    assert "bucketpipe ingest demo" in info
    assert not app.dataframe
