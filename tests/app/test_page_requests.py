"""Requests a cold dashboard page makes to S3 (counted by a proxy in front of the server): a
page reads the few files it shows, each once, whatever the history holds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.proxy import CountingProxy, Requests
from tests.app.conftest import AppFactory, DemoLake, lake_env, metric, no_errors, run_pipeline
from tests.support.s3_servers import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.plain_http]

# Sixty days of the demo market: quotes in three month partitions, bars in one or two years.
DAYS = "60"


@pytest.fixture
def counted(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> Iterator[tuple[DemoLake, CountingProxy]]:
    assert s3_server.endpoint.startswith("http://"), "deselected on the HTTPS server"
    env = lake_env(tmp_path) | s3_server.env(s3_bucket) | {"BUCKETPIPE_DEMO_DAYS": DAYS}
    run_pipeline(env, ["ingest", "demo"], ["clean"])
    with CountingProxy(s3_server.endpoint) as proxy:
        yield DemoLake(tmp_path, env | {"AWS_ENDPOINT_URL": proxy.url}), proxy


def open_cold(
    make_app: AppFactory, counted: tuple[DemoLake, CountingProxy], page: str
) -> tuple[AppTest, CountingProxy, Requests]:
    """The app switched to `page` on a cold cache; the proxy and its mark before the switch."""
    lake, proxy = counted
    app = make_app(lake)
    mark = proxy.reading()
    app.switch_page(f"views/{page}.py").run()
    no_errors(app)
    return app, proxy, mark


def datasets_read(log: list[tuple[str, str, int]]) -> set[str]:
    return {path.split("/clean/")[1].split("/")[0] for _, path, _ in log if "/clean/" in path}


def test_a_cold_stock_page_reads_a_few_files_each_once(
    make_app: AppFactory, counted: tuple[DemoLake, CountingProxy]
) -> None:
    app, proxy, mark = open_cold(make_app, counted, "stock")
    log = proxy.log_since(mark)
    # Every data file the page opens is read whole, once: a HEAD and a GET, not a GET per
    # row group; of bars, indicators, profiles and quotes only the newest partition's file.
    assert sum(1 for kind, _, _ in log if kind == "LIST") == 0
    opened = Counter(path for kind, path, _ in log if "/clean/" in path)
    assert opened and set(opened.values()) == {2}, opened
    core = ("daily_bars", "daily_indicators", "company_profiles", "quotes")
    for dataset in core:
        read = [p for p in opened if f"/clean/{dataset}/" in p]
        assert len(read) == 1, (dataset, read)
    # The company tabs (analysts, earnings, news...) read nothing until one is opened.
    assert datasets_read(log) == set(core), opened
    assert len(log) <= 9, log
    mark = proxy.reading()
    app.session_state["stock_tab"] = "Earnings"
    app.run()
    no_errors(app)
    assert datasets_read(proxy.log_since(mark)) == {"earnings"}
    mark = proxy.reading()
    app.session_state["stock_tab"] = "Financials"  # the key metrics are read there
    app.run()
    no_errors(app)
    assert datasets_read(proxy.log_since(mark)) == {"basic_financials", "financials_reported"}
    before = proxy.reading()
    app.run()  # a rerun reads nothing again
    assert proxy.since(before).total <= 1  # at most the lake index of the live refresh


def test_a_cold_explore_page_reads_each_file_once(
    make_app: AppFactory, counted: tuple[DemoLake, CountingProxy]
) -> None:
    _, proxy, mark = open_cold(make_app, counted, "explore")
    log = proxy.log_since(mark)
    data = [path for kind, path, _ in log if kind == "GET" and "/clean/" in path]
    assert len(data) == len(set(data)), "a data file was read in parts or twice"


def test_the_quality_trend_reads_only_the_month_that_holds_the_reports(
    make_app: AppFactory, counted: tuple[DemoLake, CountingProxy]
) -> None:
    app, proxy, mark = open_cold(make_app, counted, "quality")
    switched = proxy.reading()
    app.selectbox(key="quality_dataset").set_value("quotes").run()
    no_errors(app)
    log = proxy.log_since(mark)
    quotes = proxy.log_since(switched)
    reports = {path for _, path, _ in log if "/clean/quality_reports/" in path}
    assert len(reports) == 1, reports  # one clean run: one month file, not every month's
    assert int(metric(app, "Rows in quarantine").replace(",", "")) > 0
    # The quarantine folder's listing, then its newest files, each fetched whole once.
    assert next(k for k, p, _ in quotes if "quarantine" in p) == "LIST"
    fetched = [p for k, p, _ in quotes if k != "LIST" and "/quarantine/" in p]
    assert len(fetched) == len(set(fetched)) <= 3
