"""The Quality page: scores, dimensions against thresholds, recommendations, quarantine."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import AppFactory, DemoLake, markdown, metric, no_errors

pytestmark = pytest.mark.integration


def test_quality_summarises_every_dataset(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "quality")
    no_errors(app)
    assessed = int(metric(app, "Datasets assessed"))
    assert assessed >= 15  # every demo dataset and the generic one
    table = app.dataframe[0].value
    assert len(table) == assessed
    assert table["overall_score"].between(0, 100).all()
    # Rejected by the newest runs (rows already quarantined count, but are not stored again).
    assert int(metric(app, "Rows rejected").replace(",", "")) == int(table["quarantined"].sum())
    score = float(metric(app, "Average score").rstrip(" %"))
    assert 0 < score <= 100  # the predecessor's tiles always said 0.0 %


def test_dataset_detail_shows_dimensions_and_quarantine(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "quality")
    app.selectbox(key="quality_dataset").set_value("quotes").run()
    no_errors(app)
    text = markdown(app)
    for dimension in ("Completeness", "Uniqueness", "Consistency", "Validity"):
        assert f"**{dimension}**" in text
    assert "threshold 80 %" in text and "threshold 95 %" in text
    # The demo injects bad quotes: quarantine counts by reason, with the rejected rows.
    assert int(metric(app, "Rows in quarantine").replace(",", "")) > 0
    reasons = next(d.value for d in app.dataframe if list(d.value.columns) == ["reason", "rows"])
    assert "missing price" in set(reasons["reason"])
    sample = app.dataframe[-1].value
    assert list(sample.columns[:2]) == ["_reject_reason", "_clean_run"]
    assert len(sample) > 0
    specs = [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]
    layers = [layer for spec in specs for layer in spec.get("layer", [spec])]
    xs = [layer["encoding"]["x"].get("sort") for layer in layers if "x" in layer["encoding"]]
    assert ["completeness", "uniqueness", "consistency", "validity"] in xs
    assert not app.get("plotly_chart")  # the page loads no Plotly script
    # Rejected rows of one reason only.
    app.selectbox(key="quarantine_reason_quotes").set_value("missing price").run()
    assert set(app.dataframe[-1].value["_reject_reason"]) == {"missing price"}


def test_empty_lake_explains_where_reports_come_from(
    make_app: AppFactory, empty_lake: DemoLake
) -> None:
    app = make_app(empty_lake, "quality")
    no_errors(app)
    assert any("No quality report yet" in str(i.value) for i in app.info)
