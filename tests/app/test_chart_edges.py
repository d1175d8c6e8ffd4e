"""Time axes at the edge of a phone's screen, in a real browser: wherever the runs fall, the
label of a tick near either end of the axis stays inside the chart (aligned flush with the end)
instead of being cut off, and no two ticks read the same. Before, a timeline spanning 90 s put
its last label past the right edge for three start times in nine; one spanning two days had ticks
twelve hours apart, two of them labelled with the same date, and one of eight days a single
tick."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.test_browser import Dashboard, browser, clipped_chart_text, settle

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the module's fixture, shared

SCRIPT = """
import pandas as pd
import streamlit as st
from bucketpipe.app import runcharts

start = pd.Timestamp(st.query_params["start"], tz="UTC")
span = pd.Timedelta(seconds=float(st.query_params["span"]))
runs = pd.DataFrame(
    {
        "job": ["ingest", "clean"] * 3,
        "source": ["demo"] * 6,
        "started_at": [start + span * i / 6 for i in range(6)],
        "finished_at": [start + span * (i + 0.8) / 6 for i in range(6)],
        "status": ["succeeded"] * 6,
        "run_id": [f"run-{i}" for i in range(6)],
        "rows": [10] * 6,
        "duration_s": [1.0] * 6,
    }
)
st.altair_chart(runcharts.run_timeline(runs))
"""

Y_LABELS = """() => Array.from(document.querySelectorAll(
  '.vega-embed g.role-axis[aria-label^="Y-axis"] g.role-axis-label text'))
  .map(t => { const r = t.getBoundingClientRect(); return [t.textContent, r.top, r.bottom]; })"""
BARS = """() => Array.from(document.querySelectorAll('.vega-embed g.mark-rect path'))
  .map(p => p.getBoundingClientRect().height)"""

X_LABELS = """() => Array.from(document.querySelectorAll(
  '.vega-embed g.role-axis[aria-label^="X-axis"] g.role-axis-label text'))
  .filter(t => t.getAttribute('opacity') !== '0').map(t => t.textContent)"""


def script_page(factory: pytest.TempPathFactory, name: str, script: str) -> Iterator[Dashboard]:
    """`script` served by Streamlit on loopback, until the module's tests are done."""
    root = factory.mktemp(name)
    (root / "page.py").write_text(script)
    server = Dashboard({}, root / "streamlit.log", root / "page.py")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chart_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    yield from script_page(tmp_path_factory, "chart-edges", SCRIPT)


@pytest.mark.parametrize(
    ("start", "span_s", "width"),
    [
        ("05:48:21", 90, 390),  # a 15 s tick 2 px from the right end
        ("05:48:35", 90, 390),
        ("05:48:49", 90, 390),
        ("05:48:00", 18, 390),
        ("05:30:00", 4000, 390),  # minutes
        ("05:30:00", 60000, 390),  # days and hours
        ("03:36:06", 178_759, 1280),  # two days to the last run's end: ticks 12 h apart
        ("03:36:06", 178_759, 390),
        ("03:36:06", 700_000, 390),  # eight days: one tick
        ("03:36:06", 40 * 86400, 390),  # weeks
    ],
)
def test_time_labels_stay_inside_the_chart_and_differ(
    browser: Any, chart_page: Dashboard, start: str, span_s: int, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{chart_page.url}/?start=2026-12-06T{start}&span={span_s}")
    settle(page)
    assert page.locator(".vega-embed svg text").count() > 0, "no chart drawn"
    assert clipped_chart_text(page) == []
    labels = page.evaluate(X_LABELS)
    assert len(labels) >= 2 and len(labels) == len(set(labels)), labels
    page.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_each_job_has_a_lane_of_its_own(browser: Any, chart_page: Dashboard, width: int) -> None:
    """Two jobs, two lanes: their labels apart and their bars as thick as a line of text.
    Before, the legend and the axes took the chart's fixed height and left the two lanes
    about 5 px, `clean` written over `ingest (demo)`."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{chart_page.url}/?start=2026-12-06T05:30:00&span=4000")
    settle(page)
    labels = sorted(page.evaluate(Y_LABELS), key=lambda label: label[1])
    assert [text for text, _, _ in labels] == ["clean (demo)", "ingest (demo)"]
    (_, _, first_bottom), (_, second_top, _) = labels
    assert second_top - first_bottom >= 8, labels
    bars = page.evaluate(BARS)
    assert len(bars) == 6 and min(bars) >= 20, bars
    page.close()


SERIES = """
import pandas as pd
import streamlit as st
from bucketpipe.app import plots

bucket, n = st.query_params["bucket"], int(st.query_params["n"])
start = pd.Timestamp("2026-11-01" if bucket == "month" else "2026-11-02 17:00", tz="UTC")
buckets = list(pd.date_range(start, periods=n, freq=plots.STEPS[bucket]))
data = pd.DataFrame(
    {"bucket": buckets * 2, "group": ["a"] * n + ["b"] * n, "value": list(range(2 * n))}
)
st.plotly_chart(plots.lines(data, "bucket", "value", "group", "Rows", bucket=bucket, counts=True))
"""
PLOTLY_X_LABELS = """() => Array.from(document.querySelectorAll('.js-plotly-plot .xtick text'))
  .map(t => t.textContent)"""


@pytest.fixture(scope="module")
def series_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    yield from script_page(tmp_path_factory, "series-ticks", SERIES)


@pytest.mark.parametrize(
    ("bucket", "n", "ticks"),
    [("hour", 1, 3), ("hour", 3, 3), ("day", 1, 3), ("day", 4, 4), ("month", 2, 2)],
)
def test_a_series_of_few_buckets_has_a_tick_per_bucket(
    browser: Any, series_page: Dashboard, bucket: str, n: int, ticks: int
) -> None:
    """Before, one hour's point had ticks a fraction of a millisecond apart
    (`16:59:59.999`, `16:59:59.9995`, `17:00:00`, `17:00:00.0005`)."""
    page = browser.new_page(viewport={"width": 390, "height": 900})
    page.goto(f"{series_page.url}/?bucket={bucket}&n={n}")
    settle(page)
    labels = page.evaluate(PLOTLY_X_LABELS)
    assert len(labels) == ticks and len(set(labels)) == ticks, labels
    assert not any("." in label for label in labels), labels
    page.close()
