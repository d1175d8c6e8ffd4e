"""The SQL page in a real browser (Debian chromium): what a user sees when a query is refused,
fails or runs, with the lake's writer key in the dashboard's environment.

One dashboard serves the demo lake with a short time limit. Each refused or failed query must
show exactly one error alert of one line that says why, with no traceback, no storage path
and no key; a permitted query typed next in the same browser session must show its rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.lake.duck import quote_literal
from tests.app.conftest import DemoLake
from tests.app.test_browser import CHROMIUM_ARGS, Dashboard, chromium, settle
from tests.support.s3_servers import MOTO_KEYS

pytestmark = pytest.mark.browser

ERROR = '[data-testid="stAlertContentError"]'
EXCEPTION = '[data-testid="stException"]'
TIMEOUT_S = 2
WRITER = MOTO_KEYS["writer"]  # the demo lake is local: a stand-in for the deployment's key


@pytest.fixture(scope="module")
def sql_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def sql_dashboard(demo_lake: DemoLake) -> Iterator[Dashboard]:
    env = {
        **demo_lake.env,
        "BUCKETPIPE_SQL_TIMEOUT_SECONDS": str(TIMEOUT_S),
        # The writer key as a deployment's Secret puts it: no query may show it.
        "AWS_ACCESS_KEY_ID": WRITER.access_key,
        "AWS_SECRET_ACCESS_KEY": WRITER.secret_key,
    }
    server = Dashboard(env, demo_lake.root / "streamlit-sql.log")
    yield server
    server.stop()


@pytest.fixture
def sql_page(sql_browser: Any, sql_dashboard: Dashboard) -> Iterator[Any]:
    page = sql_browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page.goto(f"{sql_dashboard.url}/sql")
    settle(page)
    yield page
    page.close()


def run(page: Any, sql: str) -> None:
    page.get_by_role("textbox", name="Query").fill(sql)
    page.get_by_role("button", name="Run").click()
    settle(page)


def main_text(page: Any) -> str:
    """What the page's main area shows (the sidebar names the lake for operators, on purpose)."""
    return str(page.locator('[data-testid="stMain"]').inner_text())


def one_error(page: Any) -> str:
    alerts = page.locator(ERROR)
    alerts.first.wait_for(timeout=30_000)
    assert alerts.count() == 1, [alerts.nth(i).inner_text() for i in range(alerts.count())]
    assert page.locator(EXCEPTION).count() == 0
    # The alert's text without its icon (a font ligature whose name is text too).
    text = str(alerts.first.locator('[data-testid="stMarkdownContainer"]').inner_text()).strip()
    assert "\n" not in text and "Traceback" not in text, text
    return text


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT current_setting('s3_secret_access_key')", "current_setting() is not allowed"),
        ("SELECT * FROM duckdb_secrets()", "secrets are not available"),
        ("SELECT getenv('AWS_SECRET_ACCESS_KEY')", "environment variables are not available"),
        ("SELECT * FROM read_parquet('lake/clean/**/*.parquet')", "reads files or URLs"),
        ("SELECT 1; SET lock_configuration = false", "run one statement at a time"),
        ("SELEC symbol FROM quotes", "(line 1, column 1)"),
        ("SELECT * FROM qoutes", 'Did you mean "quotes"'),
        ("SELECT count(*) FROM range(10000000000000)", f"time limit of {TIMEOUT_S} s"),
    ],
)
def test_a_refused_query_says_why_in_one_line_then_a_permitted_one_runs(
    sql_page: Any, demo_lake: DemoLake, sql: str, words: str
) -> None:
    run(sql_page, sql)
    message = one_error(sql_page)
    assert words in message, message
    shown = main_text(sql_page)
    for needle in (
        WRITER.secret_key,
        WRITER.access_key,
        demo_lake.env["BUCKETPIPE_LAKE"],
        "Traceback",
    ):
        assert needle not in shown, needle

    run(sql_page, "SELECT symbol, count(*) AS n FROM quotes GROUP BY symbol ORDER BY symbol")
    sql_page.wait_for_selector("text=rows in", timeout=30_000)
    assert sql_page.locator(ERROR).count() == 0
    assert sql_page.locator(EXCEPTION).count() == 0
    assert "7 rows in" in main_text(sql_page)


FORMULA = '=HYPERLINK("http://127.0.0.1:9/x", "click")'


def test_a_result_leaves_the_page_only_with_its_formulas_made_inert(
    sql_page: Any, tmp_path: Path
) -> None:
    """A text value from a stranger's file that starts with `=` is a formula to a spreadsheet.
    Streamlit's grids offer their own "Download as CSV" (and copy) that write it as it is: the
    dashboard hides them, and its own download writes the value with a leading `'`."""
    run(sql_page, f"SELECT {quote_literal(FORMULA)} AS cell, -2 AS n")
    sql_page.wait_for_selector("text=1 row in", timeout=30_000)
    grids = sql_page.locator('[data-testid="stDataFrame"]:visible')
    grids.last.hover()
    toolbar = sql_page.locator('[data-testid="stElementToolbar"]:visible').first
    toolbar.wait_for(timeout=10_000)
    labels = {toolbar.locator("button").nth(i).get_attribute("aria-label") for i in range(3)}
    assert "Search" in labels or "Fullscreen" in labels, labels  # the grid's toolbar is shown
    assert sql_page.get_by_role("button", name="Download as CSV").count() == 0
    with sql_page.expect_download() as download:
        sql_page.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / "query.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(saved.open(encoding="utf-8")))
    assert rows == [["cell", "n"], ["'" + FORMULA, "-2"]]
