"""Text that strangers write, shown as it is.

The Finnhub API's answers (headlines, summaries, sources, company names, web addresses), the
files dropped in a source bucket and the messages of failed runs reach the page, and Streamlit
reads Markdown in every markdown, caption, info box, help text and badge. Written to attack the
page, such text made each viewer's browser fetch an address of the writer's choosing (an image
in Markdown: who reads the dashboard, from where and when), turned a headline red, put icons
and emphasis in it, or linked it to `javascript:`. Here a fake API gives such answers, the real
jobs ingest and clean them, and a real browser shows the pages: the text reads exactly as
written, no request leaves the dashboard's own address, and no link runs script.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.app import ui
from bucketpipe.app.launch import CONTENT_POLICY
from bucketpipe.jobs.dashboard import healthy
from tests.app.conftest import DemoLake, finnhub_env, lake_env, run_pipeline
from tests.app.test_browser import SERVER_ENV, Dashboard, browser, settle
from tests.conftest import free_port
from tests.support.finnhub_server import FREE_KEY, FakeFinnhub

__all__ = ["browser"]  # the module's fixture, shared

# Nothing listens on the discard port: the browser's attempt to fetch is what would leak.
BEACON = "http://127.0.0.1:9/beacon"
HEADLINE = f"![pixel]({BEACON}/headline.png) Apple :red[crashes] **50 %** on $5 news"
SUMMARY = (
    f"<img src={BEACON}/summary.png> Shares [fell](javascript:alert(1)) :material/warning: "
    f"![x]({BEACON}/summary.png) # not a heading"
)
SOURCE = ":blue-badge[Reuters] :smile:"
NAME = f"![logo]({BEACON}/name.png) Apple Inc"
INDUSTRY = ":red[Technology] _and_ `more`"
SCRIPT_URL = "javascript:alert(document.cookie)"
PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")


def _news(body: Any) -> Any:
    return [
        dict(item, headline=HEADLINE, summary=SUMMARY, source=SOURCE, url=SCRIPT_URL)
        for item in body
    ]


def _profile(body: Any) -> Any:
    return dict(body, name=NAME, finnhubIndustry=INDUSTRY, weburl=SCRIPT_URL)


@pytest.fixture(scope="module")
def hostile_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("hostile-text")
    env = lake_env(root, BUCKETPIPE_SYMBOLS="AAPL")
    rewrite = {"/company-news": _news, "/news": _news, "/stock/profile2": _profile}
    with FakeFinnhub(per_second=1_000, per_minute=1_000_000, rewrite=rewrite) as server:
        env |= finnhub_env(server.url, FREE_KEY)
        run_pipeline(env, ["ingest", "finnhub"], ["clean"])
    server_ = Dashboard(DemoLake(root, env).env, root / "streamlit.log")
    yield server_
    server_.stop()


def _open(browser: Any, dashboard: Dashboard, path: str, tab: str | None) -> tuple[Any, list[str]]:
    """The page at `path` (its `tab` opened), and every address it asked for elsewhere."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((dashboard.url, "data:", "blob:")) else elsewhere.append(r.url)
        ),
    )
    page.goto(f"{dashboard.url}/{path}")
    settle(page)
    if tab:
        page.get_by_role("tab", name=tab, exact=True).click()
        settle(page)
    return page, elsewhere


def _text(page: Any) -> str:
    return str(page.locator('[data-testid="stMain"]').inner_text())


def _script_links(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('a[href]'))
            .map(a => a.getAttribute('href')).filter(h => !/^(https?:|\\/|#|\\?)/i.test(h))"""
        )
    )


@pytest.mark.browser
def test_company_news_and_profile_read_as_written(
    browser: Any, hostile_dashboard: Dashboard
) -> None:
    page, elsewhere = _open(browser, hostile_dashboard, "stock?symbol=AAPL", "News")
    shown = _text(page)
    assert elsewhere == []
    for written in (HEADLINE, SUMMARY, SOURCE, NAME, INDUSTRY):
        assert written in shown, written
    assert _script_links(page) == []
    assert page.get_by_role("link", name="Website").count() == 0  # its address ran script
    page.close()


@pytest.mark.browser
def test_market_news_reads_as_written(browser: Any, hostile_dashboard: Dashboard) -> None:
    page, elsewhere = _open(browser, hostile_dashboard, "news", None)
    shown = _text(page)
    assert elsewhere == []
    assert shown.count(HEADLINE) >= 1 and SUMMARY in shown and SOURCE in shown
    assert _script_links(page) == []
    page.close()


@pytest.mark.parametrize(
    "written",
    [HEADLINE, SUMMARY, SOURCE, NAME, INDUSTRY, "a\\b * c _d_ 1. ~e~ | f | <g> &amp; [h]"],
)
def test_text_escapes_every_mark_markdown_reads(written: str) -> None:
    """Read as CommonMark reads backslashes: every punctuation mark is escaped, and what the
    escapes stand for is the text as written."""
    escaped, read, i = ui.text(written), [], 0
    while i < len(escaped):
        if escaped[i] == "\\":
            read.append(escaped[i + 1])
            i += 2
        else:
            assert not PUNCTUATION.match(escaped[i]), escaped
            read.append(escaped[i])
            i += 1
    assert "".join(read) == written


def test_text_is_one_line() -> None:
    assert ui.text(" a\n\n# b\r\n- c\t") == "a \\# b \\- c"
    assert ui.text("2.9\u00a0T") == "2\\.9\u00a0T"  # a no-break space stays


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("http://example.com/a (b)<c>", "http://example.com/a%20%28b%29%3Cc%3E"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//example.com/x", None),
        ("/relative", None),
        ("", None),
        (None, None),
    ],
)
def test_only_web_addresses_become_links(url: str | None, address: str | None) -> None:
    assert ui.web_address(url) == address
    assert ui.link("Title", url) == (f"[Title]({address})" if address else "Title")


def test_a_badge_shows_its_label_as_written() -> None:
    assert ui.pill("a] :red[b", "blue") == ":blue-badge[a\\] \\:red\\[b]"


class Beacon:
    """An HTTP server on loopback that counts the requests reaching it (the writer's end),
    and answers `page` (HTML) to every GET."""

    def __init__(self, page: str = "") -> None:
        self.paths: list[str] = []
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                beacon.paths.append(self.path)
                body = page.encode()
                self.send_response(200 if body else 204)
                if body:
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(script: str, tmp_path: Path, *, through_launch: bool) -> Iterator[int]:
    """`script` served on a free port (yielded) through `bucketpipe.app.launch`, as
    `bucketpipe dashboard` runs it, or through a plain `streamlit run` (the control)."""
    path = tmp_path / "page.py"
    path.write_text(script)
    port = free_port()
    runner = ["-m", "bucketpipe.app.launch"] if through_launch else ["-m", "streamlit"]
    log = (tmp_path / "streamlit.log").open("w")
    server = subprocess.Popen(
        [sys.executable, *runner, "run", str(path), "--server.port", str(port)],
        env={
            **SERVER_ENV,
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "STREAMLIT_SERVER_HEADLESS": "true",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not healthy(port):
            assert server.poll() is None and time.monotonic() < deadline, "streamlit did not start"
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


UNESCAPED = """
import streamlit as st
st.markdown(f"![pixel]({st.query_params['beacon']}/pixel.png) text a page forgot to escape")
"""


@pytest.mark.browser
@pytest.mark.parametrize("through_launch", [True, False])
def test_the_content_policy_stops_an_image_that_escaping_missed(
    browser: Any, tmp_path: Path, through_launch: bool
) -> None:
    """The second layer: a page that renders a stranger's Markdown unescaped. Through
    `bucketpipe.app.launch` (as `bucketpipe dashboard` runs), the browser draws the image
    element but the policy keeps it from calling the writer's server; through a plain
    `streamlit run` (the control), the same page does call it."""
    beacon = Beacon()
    try:
        with serving(UNESCAPED, tmp_path, through_launch=through_launch) as port:
            page = browser.new_page()
            answer = page.goto(f"http://127.0.0.1:{port}/?beacon={beacon.url}")
            settle(page)
            assert page.locator('[data-testid="stMarkdownContainer"] img').count() == 1
            page.close()
        if through_launch:
            assert answer.headers["content-security-policy"] == CONTENT_POLICY
            assert beacon.paths == []
        else:
            assert "content-security-policy" not in answer.headers
            assert beacon.paths == ["/pixel.png"]
    finally:
        beacon.close()


INSIDE = """
import streamlit as st
st.button("Sign out")
"""


@pytest.mark.browser
@pytest.mark.parametrize("through_launch", [True, False])
def test_another_site_cannot_frame_the_dashboard(
    browser: Any, tmp_path: Path, through_launch: bool
) -> None:
    """Clickjacking: a page of another origin puts the dashboard in a frame it hides under
    its own buttons, so a visitor's clicks land on the dashboard. Through the launcher the
    policy's `frame-ancestors 'self'` leaves the frame empty; through a plain `streamlit run`
    (the control) the dashboard's button shows in it."""
    with serving(INSIDE, tmp_path, through_launch=through_launch) as port:
        site = Beacon(f'<iframe src="http://127.0.0.1:{port}/" width="800" height="600"></iframe>')
        try:
            page = browser.new_page()
            page.goto(site.url)
            framed = page.frame_locator("iframe").get_by_role("button", name="Sign out")
            if through_launch:
                # The browser refuses the answer: the frame holds its own error page.
                frame = page.locator("iframe").element_handle().content_frame()
                assert frame is not None
                frame.wait_for_load_state()
                assert frame.url.startswith("chrome-error:"), frame.url
                assert framed.count() == 0
            else:
                framed.wait_for(timeout=30_000)
            page.close()
        finally:
            site.close()


LABELS = ["<b>bold</b>", "<a href='https://example.com/x'>link</a>", "a<br>b", "AT&amp;T"]
PLOTS = f"""
import pandas as pd
import streamlit as st
from bucketpipe.app import plots

labels = {LABELS!r}
top = pd.DataFrame({{"value": labels, "rows": [4, 3, 2, 1]}})
st.plotly_chart(plots.bars(top, "value", "rows", horizontal=True, titles=("Value", "Rows")))
days = pd.date_range("2026-01-05", periods=3, tz="UTC")
series = pd.DataFrame(
    {{"day": list(days) * 4, "who": [v for v in labels for _ in days], "n": range(12)}}
)
st.plotly_chart(plots.lines(series, "day", "n", "who", "Rows", "Who"))
"""
TICKS = """() => { const [bars, lines] = document.querySelectorAll('.js-plotly-plot');
  const texts = (plot, css) => Array.from(plot.querySelectorAll(css)).map(t => t.textContent);
  return [texts(bars, '.ytick text'), texts(lines, '.legendtext')]; }"""


@pytest.mark.browser
def test_chart_labels_read_as_written(browser: Any, tmp_path: Path) -> None:
    """Plotly reads a subset of HTML in labels: before, `<b>bold</b>` drew a bold "bold",
    `<a href=...>` a link and `a<br>b` two lines."""
    script = tmp_path / "plots.py"
    script.write_text(PLOTS)
    server = Dashboard({}, tmp_path / "streamlit.log", script)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url)
        settle(page)
        bars, lines = page.evaluate(TICKS)
        assert sorted(bars) == sorted(LABELS)
        assert sorted(lines) == sorted(LABELS)
        assert page.locator(".js-plotly-plot a").count() == 0
        page.close()
    finally:
        server.stop()
