"""The Explore page: dataset picker, time window, charts, column profile, pages, downloads."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import AppFactory, DemoLake, metric, no_errors

pytestmark = pytest.mark.integration


def rows(app: AppTest) -> int:
    return int(metric(app, "Rows").replace(",", ""))


def chart_titles(app: AppTest) -> list[str]:
    out = []
    for chart in app.get("plotly_chart"):
        title = json.loads(chart.proto.spec)["layout"].get("title", {})
        out.append(str(title.get("text", "")) if isinstance(title, dict) else str(title))
    return out


def test_explore_picks_a_dataset_and_a_window(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "explore")
    no_errors(app)
    picker = app.selectbox(key="explore_dataset")
    names = {label.split()[0] for label in picker.options}  # "quotes  ·  11,964 rows  ·  ..."
    assert {"quotes", "daily_indicators", "weather"} <= names
    picker.set_value("quotes").run()
    no_errors(app)
    everything = rows(app)
    assert everything > 1000
    app.button_group(key="explore_window_quotes").set_value("1 d").run()
    one_day = rows(app)
    assert 0 < one_day < everything
    assert any("Filtering on `ts`" in str(c.value) for c in app.caption)


def test_generic_dataset_from_files_is_explorable(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "explore")
    app.selectbox(key="explore_dataset").set_value("weather").run()
    no_errors(app)
    assert rows(app) == 240
    assert metric(app, "Columns") == "4"  # lineage columns are not counted
    # Only the open tab runs: the summary's, not the relations' widgets and charts.
    assert "Correlation (Pearson)" not in chart_titles(app)
    assert not [w for w in app.selectbox if w.key == "explore_x"]
    app.session_state["explore_tab"] = "Relations"  # the tab a user opens
    app.run()
    no_errors(app)
    # Widgets offer only columns that exist.
    assert set(app.selectbox(key="explore_x").options) == {"temperature_c", "humidity_pct"}
    assert app.selectbox(key="explore_colour").options == ["(none)", "city"]
    assert "Correlation (Pearson)" in chart_titles(app)
    assert any("by city and measured_at" in t for t in chart_titles(app))
    app.session_state["explore_tab"] = "Time series"
    app.run()
    assert any(t.startswith("rows per") for t in chart_titles(app)), chart_titles(app)
    app.selectbox(key="series_by").set_value("city").run()
    no_errors(app)
    series = next(
        json.loads(c.proto.spec)["layout"]
        for c in app.get("plotly_chart")
        if "per city" in str(json.loads(c.proto.spec)["layout"].get("title"))
    )
    # The legend names the split column, below the chart where the title cannot cover it.
    assert series["legend"]["title"]["text"] == "city"
    assert series["legend"]["y"] < 0
    # The Summary tab's top values: both axes titled.
    app.session_state["explore_tab"] = "Summary"
    app.run()
    app.selectbox(key="explore_top_col").set_value("city").run()
    top = next(json.loads(c.proto.spec) for c in app.get("plotly_chart"))
    assert top["layout"]["yaxis"]["title"]["text"] == "city"
    assert top["layout"]["xaxis"]["title"]["text"] == "rows"


def test_data_tab_pages_and_picks_columns(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "explore")
    app.selectbox(key="explore_dataset").set_value("weather").run()
    app.session_state["explore_tab"] = "Data"
    app.run()
    table = app.dataframe[-1].value
    assert len(table) == 100
    app.selectbox(key="data_per_page").set_value(25).run()
    app.number_input(key="data_page").set_value(2).run()
    page_two = app.dataframe[-1].value
    assert len(page_two) == 25
    app.multiselect(key="data_cols_weather").set_value(["city", "temperature_c"]).run()
    assert list(app.dataframe[-1].value.columns) == ["city", "temperature_c"]
    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Download CSV", "Download PARQUET"]


def test_column_profile_follows_the_column(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "explore")
    app.selectbox(key="explore_dataset").set_value("weather").run()
    app.session_state["explore_tab"] = "Columns"
    app.run()
    assert metric(app, "Distinct values") == "3"  # city
    app.selectbox(key="profile_col_weather").set_value("humidity_pct").run()
    no_errors(app)
    assert metric(app, "Type") == "BIGINT"
    assert int(metric(app, "Distinct values")) > 3


def test_empty_lake_says_how_to_load_data(make_app: AppFactory, empty_lake: DemoLake) -> None:
    app = make_app(empty_lake, "explore")
    no_errors(app)
    assert any("No dataset has been committed yet" in str(i.value) for i in app.info)
