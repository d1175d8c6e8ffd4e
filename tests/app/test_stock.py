"""The Stock page: pickers, indicator overlays, tiles, profile and the detail tabs."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from bucketpipe.config.settings import Settings
from bucketpipe.lake.storage import LocalStore
from bucketpipe.serve.queries.session import LakeSession
from bucketpipe.serve.reader import LakeReader
from tests.app.conftest import AppFactory, DemoLake, markdown, metric, no_errors

pytestmark = pytest.mark.integration


def traces(app: AppTest, index: int = 0) -> list[str]:
    spec: dict[str, Any] = json.loads(app.get("plotly_chart")[index].proto.spec)
    return [str(t.get("name")) for t in spec["data"]]


def test_stock_page_shows_bars_indicators_and_profile(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "stock")
    no_errors(app)
    assert app.selectbox(key="stock_symbol").value == "AAPL"
    assert "### Apple Inc" in markdown(app)
    names = traces(app)
    assert names[0] == "Price"
    assert {"SMA 20", "EMA 12", "Bollinger upper", "Bollinger lower", "Volume"} <= set(names)
    rsi = float(metric(app, "RSI 14"))
    assert 0 <= rsi <= 100
    assert metric(app, "Volatility (20 d)").endswith("%")
    tabs = [t.label for t in app.tabs]
    assert tabs[:6] == ["Intraday", "Analysts", "Earnings", "Financials", "Insiders", "News"]
    assert {"Dividends", "Social sentiment"} <= set(tabs)  # the demo has both
    technical = next(d.value for d in app.dataframe if "macd_hist" in d.value.columns)
    assert technical["symbol"].iloc[0] == "AAPL" and len(technical) == 7


def test_only_the_open_tab_runs(make_app: AppFactory, demo_lake: DemoLake) -> None:
    """Each tab reads its own datasets: a closed tab reads nothing, opening it runs it."""
    app = make_app(demo_lake, "stock")
    intraday = next(t for t in app.tabs if t.label == "Intraday")
    news = next(t for t in app.tabs if t.label == "News")
    assert intraday.get("plotly_chart") and not news.children
    app.session_state["stock_tab"] = "News"
    app.run()
    no_errors(app)
    news = next(t for t in app.tabs if t.label == "News")
    intraday = next(t for t in app.tabs if t.label == "Intraday")
    assert not intraday.children
    headlines = [m.value for m in news.markdown if m.value.startswith("**")]
    assert headlines, "the News tab shows AAPL's articles once opened"


def first_value(lake: DemoLake, sql: str) -> Any:
    """The first value of a query over the lake's committed snapshots."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in lake.env.items():
            mp.setenv(name, value)
        session = LakeSession.from_settings(Settings())
    try:
        session.sync()
        with session.cursor() as cursor:
            row = cursor.execute(sql).fetchone()
    finally:
        session.close()
    return row[0] if row else None


def test_the_financials_tab_shows_the_newest_key_metrics(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "stock")
    assert "P/E (TTM)" not in markdown(app)  # not read on a page that does not show them
    app.session_state["stock_tab"] = "Financials"
    app.run()
    no_errors(app)
    tab = next(t for t in app.tabs if t.label == "Financials")
    shown = "\n".join(m.value for m in tab.markdown)
    newest = first_value(demo_lake, "SELECT max(as_of) FROM basic_financials WHERE symbol = 'AAPL'")
    assert f"**Key metrics** (as of {newest:%Y-%m-%d})" in shown
    named = {line.split(":")[0].removeprefix("- ") for line in shown.splitlines()}
    assert {"**52-week range**", "**P/E (TTM)**", "**Beta**"} <= named
    # One market cap on the page: the profile card's (the metrics may be of another day).
    assert "**Market cap**" not in named
    assert markdown(app).count("**Market cap**") == 1


def test_picking_another_symbol_changes_the_tiles(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "stock")
    before = (metric(app, "Last close"), metric(app, "RSI 14"))
    app.selectbox(key="stock_symbol").set_value("MSFT").run()
    no_errors(app)
    assert "### Microsoft Corp" in markdown(app)
    assert (metric(app, "Last close"), metric(app, "RSI 14")) != before
    assert app.query_params["symbol"] == "MSFT"  # the URL keeps the choice


def test_overlay_toggles_change_the_chart(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "stock")
    app.toggle(key="stock_bollinger").set_value(False).run()
    assert not any(name.startswith("Bollinger") for name in traces(app))
    app.button_group(key="stock_overlays").set_value(["SMA 5", "SMA 50", "EMA 26"]).run()
    names = traces(app)
    assert {"SMA 5", "SMA 50", "EMA 26"} <= set(names)
    assert "SMA 20" not in names


def test_rsi_and_macd_charts_have_their_lines(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "stock")
    all_traces = [traces(app, i) for i in range(len(app.get("plotly_chart")))]
    rsi = ["RSI 14", "70 overbought", "30 oversold"]
    assert rsi in all_traces
    assert ["Histogram", "MACD", "Signal"] in all_traces
    rsi_spec = json.loads(app.get("plotly_chart")[all_traces.index(rsi)].proto.spec)
    levels = [sorted(set(t["y"])) for t in rsi_spec["data"][1:]]
    assert levels == [[70], [30]]
    macd = json.loads(
        app.get("plotly_chart")[all_traces.index(["Histogram", "MACD", "Signal"])].proto.spec
    )
    assert macd["layout"]["yaxis"]["title"]["text"].startswith("MACD")


def test_a_narrower_date_range_shows_fewer_bars(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "stock")
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    wide = len(spec["data"][0]["x"])
    picker = app.date_input(key="stock_range_AAPL")
    end = picker.value[1]
    picker.set_value((end.replace(day=1), end)).run()
    no_errors(app)
    narrow = len(json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]["x"])
    assert 0 < narrow < wide


def test_an_address_naming_a_symbol_the_lake_lacks_says_so(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "stock")
    # An old or hostile link: the name is shown as text, never as Markdown.
    app.query_params["symbol"] = "ZZZZ`**[x](http://example.org)**"
    app.run()
    warnings = [str(w.value) for w in app.warning]
    said = [w for w in warnings if "the symbol" in w]
    assert said and "showing AAPL" in said[0], warnings
    assert said[0].count("`") == 2  # one code span: the backtick in the name cannot end it
    assert app.query_params["symbol"] == "AAPL"
    app.selectbox(key="stock_symbol").set_value("MSFT").run()
    assert not [w for w in app.warning if "the symbol" in str(w.value)]


def test_the_intraday_caption_counts_the_snapshots_it_charts(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    """The caption's count and days are the chart's: equal to SQL over the committed quotes
    of those days, and the chart has one point per snapshot."""
    app = make_app(demo_lake, "stock")
    no_errors(app)
    intraday = next(t for t in app.tabs if t.label == "Intraday")
    (caption,) = [c.value for c in intraday.caption if "snapshots of" in str(c.value)]
    found = re.match(r"([\d,]+) snapshots of the market days (\S+) to (\S+) \(New York", caption)
    assert found, caption
    shown, first, last = int(found[1].replace(",", "")), found[2], found[3]
    assert date.fromisoformat(first) <= date.fromisoformat(last)
    reader = LakeReader(LocalStore(Path(demo_lake.env["BUCKETPIPE_LAKE"])))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    reader.register_views(con)
    row = con.execute(
        "SELECT count(*) FROM quotes WHERE symbol = 'AAPL' "
        "AND CAST(timezone('America/New_York', ts) AS DATE) "
        "BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE)",
        [first, last],
    ).fetchone()
    assert row is not None and shown == row[0] > 0
    spec = json.loads(intraday.get("plotly_chart")[0].proto.spec)
    assert len(spec["data"][0]["x"]) == shown
