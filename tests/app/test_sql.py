"""The SQL page and every example query, on the sandbox over the demo lake."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bucketpipe.config.settings import Settings
from bucketpipe.serve.queries import examples
from bucketpipe.serve.queries.session import open_sandbox
from tests.app.conftest import AppFactory, DemoLake, no_errors, shown

pytestmark = pytest.mark.integration


def result(app: AppTest) -> pd.DataFrame:
    """The results grid (the schema browser's tables have columns `column` and `type`)."""
    frames = [d.value for d in app.dataframe if list(d.value.columns) != ["column", "type"]]
    assert len(frames) == 1
    return frames[0]


def run_query(app: AppTest, sql: str) -> AppTest:
    app.text_area(key="sql_text").input(sql)
    next(b for b in app.button if b.label == "Run").click()
    return app.run()


def test_query_results_and_row_cap(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "sql")
    no_errors(app)
    run_query(app, "SELECT symbol, count(*) AS n FROM quotes GROUP BY symbol ORDER BY symbol")
    no_errors(app)
    assert list(result(app)["symbol"]) == ["AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "TSLA"]
    app.number_input[0].set_value(5)
    run_query(app, "SELECT * FROM daily_indicators")
    assert len(result(app)) == 5
    assert any("Showing the first 5 rows" in str(w.value) for w in app.warning)
    assert [b.label for b in app.get("download_button")] == ["Download CSV"]


def test_nan_is_a_value_and_null_is_null(make_app: AppFactory, demo_lake: DemoLake) -> None:
    """The grid gets NaN where the result holds NaN and a missing value (shown "NULL") where
    it holds NULL, and a BIGINT past 2^53 beside a NULL keeps every digit."""
    app = make_app(demo_lake, "sql")
    run_query(
        app,
        "SELECT * FROM (VALUES ('NaN'::DOUBLE, 9007199254740993), (NULL, NULL)) AS v(x, id)",
    )
    no_errors(app)
    frame = result(app)
    x, ids = list(frame["x"]), list(frame["id"])
    assert isinstance(x[0], float) and x[0] != x[0]  # NaN, a value
    assert x[1] is pd.NA and ids[1] is pd.NA
    assert ids[0] == 9007199254740993


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "reads files or URLs"),
        ("COPY quotes TO '/tmp/x.csv'", "COPY statements are not allowed"),
        ("SET enable_external_access = true", "SET statements are not allowed"),
        ("SELECT * FROM qoutes", 'Did you mean "quotes"'),
        ("SELECT CAST(symbol AS INTEGER) FROM quotes", "Conversion Error"),
        ("SELEC 1", "(line 1, column 1)"),
        # A value quoted in an error reads as written (it is not drawn as an image).
        (
            "SELECT CAST('**b** ![x](p.png) :red[y]' AS INTEGER)",
            "Could not convert string '**b** ![x](p.png) :red[y]'",
        ),
    ],
)
def test_refused_and_failed_queries_are_one_line_errors(
    make_app: AppFactory, demo_lake: DemoLake, sql: str, words: str
) -> None:
    app = make_app(demo_lake, "sql")
    run_query(app, sql)
    assert not app.exception
    messages = [shown(str(e.value)) for e in app.error]
    assert len(messages) == 1
    assert words in messages[0]
    assert "![" not in str(app.error[0].value)
    assert "\n" not in messages[0] and "Traceback" not in messages[0]


def test_schema_browser_and_examples(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "sql")
    labels = [e.label for e in app.expander]
    assert any(label.startswith("daily_indicators · ") for label in labels)
    assert any(label.startswith("weather · ") for label in labels)
    picker = app.selectbox(key="sql_example")
    picker.set_value("MACD crossovers").run()
    assert "macd_signal" in app.text_area(key="sql_text").value


def test_every_example_runs_on_the_demo_lake(demo_lake: DemoLake) -> None:
    settings = Settings(
        lake=demo_lake.env["BUCKETPIPE_LAKE"], temp_dir=demo_lake.env["BUCKETPIPE_TEMP_DIR"]
    )
    sandbox = open_sandbox(settings)
    shown = examples.available(sandbox.views)
    assert len(shown) == len(examples.EXAMPLES)  # the demo has every dataset they need
    for example in shown:
        result = sandbox.run(example.sql)
        assert result.rows > 0, example.title
    sandbox.close()


def test_daily_indicators_view_has_the_documented_columns(demo_lake: DemoLake) -> None:
    settings = Settings(
        lake=demo_lake.env["BUCKETPIPE_LAKE"], temp_dir=demo_lake.env["BUCKETPIPE_TEMP_DIR"]
    )
    sandbox = open_sandbox(settings)
    names = [c for c, _ in sandbox.schema()["daily_indicators"]]
    expected = ["symbol", "day", "open", "high", "low", "close", "sma_5", "sma_20", "sma_50"]
    expected += ["ema_12", "ema_26", "rsi_14", "macd", "macd_signal", "macd_hist"]
    expected += ["bb_middle", "bb_upper", "bb_lower"]
    assert set(expected) <= set(names)
    sandbox.close()


def test_a_result_past_the_byte_cap_is_cut_with_a_warning(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    app = make_app(demo_lake, "sql", BUCKETPIPE_SQL_MAX_RESULT_BYTES="65536")
    run_query(app, "SELECT repeat('x', 10000) AS wide FROM range(100)")
    no_errors(app)
    assert 0 < len(result(app)) < 100
    assert any("result cap of" in str(w.value) for w in app.warning)
