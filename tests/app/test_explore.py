"""The Explore page: dataset picker, time window, charts, column profile, pages, downloads."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import AppFactory, DemoLake, lake_env, metric, no_errors, run_pipeline

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
    # Widgets offer only columns that exist, each by its label.
    assert set(app.selectbox(key="explore_x").options) == {"Temperature °C", "Humidity %"}
    assert app.selectbox(key="explore_colour").options == ["(none)", "City"]
    assert "Correlation (Pearson)" in chart_titles(app)
    assert any("by city and measured at" in t for t in chart_titles(app))
    app.session_state["explore_tab"] = "Time series"
    app.run()
    assert any(t.startswith("Rows per") for t in chart_titles(app)), chart_titles(app)
    app.selectbox(key="series_by").set_value("city").run()
    no_errors(app)
    series = next(
        json.loads(c.proto.spec)["layout"]
        for c in app.get("plotly_chart")
        if "per city" in str(json.loads(c.proto.spec)["layout"].get("title"))
    )
    # The legend names the split column, below the chart where the title cannot cover it.
    assert series["legend"]["title"]["text"] == "City"
    assert series["legend"]["y"] < 0
    # The Summary tab's top values: both axes titled.
    app.session_state["explore_tab"] = "Summary"
    app.run()
    app.selectbox(key="explore_top_col").set_value("city").run()
    top = next(json.loads(c.proto.spec) for c in app.get("plotly_chart"))
    assert top["layout"]["yaxis"]["title"]["text"] == "City"
    assert top["layout"]["xaxis"]["title"]["text"] == "Rows"


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
    assert labels == ["Download CSV", "Download Parquet"]


def headers(app: AppTest, index: int = -1) -> dict[str, str]:
    """Column name -> the header a table shows (hidden columns left out)."""
    config = json.loads(app.dataframe[index].proto.columns or "{}")
    return {k.removeprefix("name:"): v.get("label", k) for k, v in config.items() if v}


def figures(app: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in app.get("plotly_chart")]


def test_explore_speaks_in_labels_and_whole_counts(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "explore")
    app.selectbox(key="explore_dataset").set_value("daily_indicators").run()
    no_errors(app)
    # The commit's age is named as such; the newest row's time and age are said apart.
    assert metric(app, "Last commit").endswith("ago") or metric(app, "Last commit") == "just now"
    assert not [m for m in app.metric if m.label == "Data age"]
    assert any("newest row: " in str(c.value) and "ago" in str(c.value) for c in app.caption)
    summary = headers(app, 0)
    assert {summary[k] for k in ("label", "column", "p25", "min")} == {
        "Column",
        "Name in SQL",
        "25th percentile",
        "Minimum",
    }
    table = app.dataframe[0].value.set_index("column")
    assert table.loc["sma_5", "label"] == "SMA 5" and table.loc["daily_return", "label"] == (
        "Daily return %"
    )
    app.session_state["explore_tab"] = "Relations"
    app.run()
    no_errors(app)
    corr = next(f for f in figures(app) if "Correlation" in str(f["layout"].get("title")))
    assert {"SMA 5", "Daily return %", "Volatility 20 d %"} <= set(corr["data"][0]["x"])
    # "All" pivots every day of the dataset (seven symbols fit: no day is cut).
    pivot = next(f for f in figures(app) if "by symbol and day" in str(f["layout"]))
    days = set(pivot["data"][0]["x"])
    (expected,) = duckdb.sql(
        "SELECT count(DISTINCT day) FROM read_parquet("
        f"'{demo_lake.root}/lake/clean/daily_indicators/**/*.parquet')"
    ).fetchone() or (0,)
    assert len(days) == expected > 25
    bar = pivot["layout"]["coloraxis"]["colorbar"]
    assert (bar["dtick"], bar["tickformat"]) == (1, ",d")  # one row per symbol and day
    app.session_state["explore_tab"] = "Time series"
    app.run()
    series = next(f for f in figures(app) if "per day" in str(f["layout"].get("title")))
    assert series["layout"]["xaxis"]["title"]["text"] == "Day"
    assert series["layout"]["yaxis"]["dtick"] == 1
    app.session_state["explore_tab"] = "Data"
    app.run()
    shown = headers(app)
    assert (shown["sma_5"], shown["rsi_14"], shown["bb_lower"]) == (
        "SMA 5",
        "RSI 14",
        "Bollinger lower",
    )
    assert "rows, newest first" in "\n".join(str(c.value) for c in app.caption)


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
    # Times read as the page writes them: a zoned one in UTC, one without a zone as stored.
    app.selectbox(key="profile_col_weather").set_value("measured_at").run()
    assert (metric(app, "Minimum"), metric(app, "Maximum")) == (
        "2026-10-01 00:00",
        "2026-11-29 18:00",
    )
    app.selectbox(key="explore_dataset").set_value("quotes").run()
    app.selectbox(key="profile_col_quotes").set_value("ts").run()
    no_errors(app)
    (first,) = duckdb.sql(
        f"SELECT min(ts) FROM read_parquet('{demo_lake.root}/lake/clean/quotes/**/*.parquet')"
    ).fetchone() or (None,)
    assert metric(app, "Minimum") == first.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_empty_lake_says_how_to_load_data(make_app: AppFactory, empty_lake: DemoLake) -> None:
    app = make_app(empty_lake, "explore")
    no_errors(app)
    assert any("No dataset has been committed yet" in str(i.value) for i in app.info)


def test_flagged_outliers_can_be_left_out_of_every_figure(
    make_app: AppFactory, tmp_path: Path
) -> None:
    """A sensor's two absurd readings are flagged by clean; hiding them leaves them out of
    the tiles and the charts, and the SQL beside them says so."""
    source = tmp_path / "source" / "sensors" / "readings.csv"
    source.parent.mkdir(parents=True)
    readings = [
        f"s{i % 4},2026-10-{1 + i // 24:02d} {i % 24:02d}:00:00,{20 + i % 5}" for i in range(198)
    ]
    readings += ["s1,2026-10-20 01:00:00,5000", "s2,2026-10-20 02:00:00,4800"]
    source.write_text("sensor,measured_at,value\n" + "\n".join(readings) + "\n")
    env = lake_env(tmp_path, BUCKETPIPE_SOURCE=str(tmp_path / "source"))
    run_pipeline(env, ["ingest", "bucket"], ["clean"])
    app = make_app(DemoLake(tmp_path, env), "explore")
    app.selectbox(key="explore_dataset").set_value("sensors").run()
    no_errors(app)
    assert rows(app) == 200
    app.toggle(key="explore_outliers_sensors").set_value(True).run()
    no_errors(app)
    assert rows(app) == 198
    assert any("_outlier_columns IS NULL" in c.value for c in app.code)
    app.session_state["explore_tab"] = "Distributions"
    app.run()
    no_errors(app)
    # The sample every distribution chart draws leaves them out too.
    sampled = [c.value for c in app.code if "USING SAMPLE" in c.value]
    assert sampled and all("_outlier_columns IS NULL" in sql for sql in sampled)
