"""The Quality page: scores, dimensions against thresholds, recommendations, quarantine."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bucketpipe.lake.duck import quote_ident
from bucketpipe.lake.storage import LocalStore
from bucketpipe.serve.reader import LakeReader
from tests.app.conftest import (
    AppFactory,
    DemoLake,
    lake_env,
    markdown,
    metric,
    no_errors,
    run_pipeline,
)

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


@pytest.fixture(scope="module")
def recleaned_lake(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    """Overlapping deliveries of the same days cleaned together, then twice a smaller one,
    cleaned on its own: the newest reports score less than each dataset holds."""
    root = tmp_path_factory.mktemp("recleaned-lake")
    env = lake_env(root, BUCKETPIPE_SYMBOLS="AAPL,MSFT")
    demo = ["ingest", "demo", "--days", "6"]
    # Four calendar days hold two trading days whatever the weekday the tests run on.
    again = [*demo[:3], "4", "--seed", "11"]
    run_pipeline(env, demo, demo, ["clean"], again, again, ["clean"])
    return DemoLake(root, env)


def committed_counts(lake: DemoLake) -> dict[str, int]:
    """`SELECT count(*)` over each dataset's committed data."""
    store = LocalStore(Path(lake.env["BUCKETPIPE_LAKE"]))
    reader = LakeReader(store)
    con = duckdb.connect()
    reader.register_views(con)
    out = {}
    for name in reader.datasets():
        row = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()
        out[name] = int(row[0]) if row else 0
    return out


def labels(frame: Any) -> dict[str, str]:
    return {name: c.get("label", name) for name, c in json.loads(frame.proto.columns).items()}


def test_rows_are_the_committed_datasets_and_the_page_reads_as_words(
    make_app: AppFactory, recleaned_lake: DemoLake
) -> None:
    app = make_app(recleaned_lake, "quality")
    no_errors(app)
    table = app.dataframe[0].value.set_index("dataset")
    counts = committed_counts(recleaned_lake)
    assert table["rows"].to_dict() == {name: counts[name] for name in table.index}
    assert table.loc["quotes", "rows_assessed"] < counts["quotes"]  # the newest run's rows
    assert labels(app.dataframe[0])["rows_assessed"] == "Rows scored"
    # Recommendations count things to act on: none for a dataset that only had duplicates.
    app.selectbox(key="quality_dataset").set_value("dividends").run()
    assert table.loc["dividends", "recommendations"] == 0
    assert not any(m.value.startswith("- ") for m in app.markdown)
    captions = "\n".join(str(c.value) for c in app.caption)
    assert "No action needed" in captions and "duplicates removed" in captions
    # The quotes' input adds up, the profile is labelled, a single row is a row.
    app.selectbox(key="quality_dataset").set_value("quotes").run()
    no_errors(app)
    captions = "\n".join(str(c.value) for c in app.caption)
    assert f"{counts['quotes']:,} rows in the dataset now" in captions
    # The two newest deliveries hold the same rows: each rejected row is repeated once. How
    # many there are depends on the trading days of the last four (the weekday of the run).
    found = re.search(
        r"(\d+) distinct (rows?) rejected \+ (\d+) (repeats?) of a rejected row, counted once",
        captions,
    )
    assert found is not None and found[1] == found[3] and int(found[1]) >= 1
    rejected = int(found[1])
    assert (found[2], found[4]) == (("row", "repeat") if rejected == 1 else ("rows", "repeats"))
    page = captions + markdown(app)
    said = f"{rejected} row was rejected" if rejected == 1 else f"{rejected} rows were rejected"
    assert said in page
    assert " 1 rows" not in page and " 1 values" not in page
    profile = next(d for d in app.dataframe if "empty_pct" in d.value.columns)
    assert labels(profile)["empty_pct"] == "Empty"
    assert labels(profile)["top_values"] == "Most frequent (rows)"
    assert re.fullmatch(r"[\d,]+\.\d\d", profile.value.set_index("column").loc["price", "mean"])
    assert labels(app.dataframe[-1])["ts"] == "Time (UTC)"
    specs = [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]
    layers = [layer for spec in specs for layer in spec.get("layer", [spec])]
    scales = [layer["encoding"]["y"].get("scale") for layer in layers if "y" in layer["encoding"]]
    assert {"domain": [0, 100], "nice": False} in scales  # percent axes end at 100
    axes = [layer["encoding"]["x"].get("axis", {}) for layer in layers if "x" in layer["encoding"]]
    assert {"format": ",d", "tickMinStep": 1} in axes  # rows in quarantine: whole numbers


def test_a_score_below_100_never_reads_100(make_app: AppFactory, tmp_path: Path) -> None:
    """A report written when a score of 299,891 of 299,902 was stored rounded to 100.0, with a
    far-out line and a cleaning step in the older words."""
    from datetime import UTC, datetime

    from bucketpipe.quality.report import Dimension, QualityReport, update_latest, write_report

    counts = {"completeness": 10, "uniqueness": 10, "consistency": 299_891, "validity": 49_985}
    totals = {"completeness": 10, "uniqueness": 10, "consistency": 299_902, "validity": 50_001}
    dims = {
        name: Dimension(
            score=round(100 * n / totals[name], 2),
            threshold=80.0,
            passed=True,
            definition=name,
            numerator=n,
            denominator=totals[name],
        )
        for name, n in counts.items()
    }
    report = QualityReport(
        dataset="sensors",
        run_id="clean-1",
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
        rows=10,
        dimensions=dims,
        overall_score=99.99,
        passed=True,
        recommendations=[
            "Column 'change' has 23 extreme values (outside -11.44 .. 10.9075): check units "
            "and typing errors."
        ],
        steps=["28 outliers in temperature_c: flag"],
    )
    lake = DemoLake(tmp_path, lake_env(tmp_path))
    store = LocalStore(Path(lake.env["BUCKETPIPE_LAKE"]))
    write_report(store, report)
    update_latest(store, [report], run_id="clean-1", now=report.created_at, run_summary={})
    app = make_app(lake, "quality")
    no_errors(app)
    assert metric(app, "Average score") == "99.99 %"
    text = markdown(app)
    assert "**Consistency** > 99.99 %" in text and "**Validity** 99.97 %" in text
    assert "**Completeness** 100.0 %" in text  # 10 of 10
    table = app.dataframe[0].value
    assert (table[["consistency", "validity", "overall_score"]] < 100).all(axis=None)
    assert "23 values of change lie beyond the far-out fences" in text
    captions = "\n".join(str(c.value) for c in app.caption)
    assert "28 outliers in temperature_c flagged (cleaning's outlier test" in captions
