"""The dashboard in a real browser: `bucketpipe dashboard`'s command line, Debian chromium.

Opens every page of a dashboard serving the demo lake (re-ingested over the same days with
another seed and cleaned again, as a user re-ingesting would), fails on any Streamlit
exception or error alert, at 1280, 1024 and 390 px: no metric tile or chart label cut short,
nothing scrolling sideways on a phone, the sidebar closed there, key numbers equal to SQL over
the same snapshots. It takes the screenshots the README shows at 1280 and 390 px (to a temp
dir; with `pytest --update-screenshots`, of the demo lake delivered twice alike, to
docs/screenshots/). A second server
on an empty lake checks live refresh end to end: data committed while the page is open appears
without a reload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.app.layout import TILES_KEY
from bucketpipe.config.settings import Settings
from bucketpipe.jobs.dashboard import APP, command, healthy
from bucketpipe.serve.queries.session import LakeSession
from tests.app.conftest import DEMO_DAYS, DemoLake, lake_env, run_pipeline, weather_csv
from tests.conftest import free_port

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# page -> (URL path, what must be on it once it has settled)
PAGES = {
    "overview": ("", "Market overview"),
    "stock": ("stock?symbol=AAPL", "RSI 14"),
    "news": ("news", "Market news"),
    "explore": ("explore?dataset=daily_indicators", "Summary statistics"),
    "quality": ("quality?dataset=quotes", "Score over time"),
    "pipeline": ("pipeline", "Run history"),
    "sql": ("sql", "Example queries"),
}
# Pages whose figures open with a row of tiles (news shows its IPO tiles only on its tab).
TILED = {"overview", "stock", "explore", "quality", "pipeline"}
# As deployed: no file watcher, and the viewer's toolbar (no developer "Deploy" button).
SERVER_ENV = {
    "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
    "STREAMLIT_CLIENT_TOOLBAR_MODE": "viewer",
}
FAILURES = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def chromium() -> str:
    """Debian's chromium; skip without it on a workstation, fail without it in CI."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (apt-get install -y chromium); CI needs it")
    pytest.skip("chromium is not installed: apt-get install -y chromium")


class Dashboard:
    """`bucketpipe dashboard` (streamlit run), or another Streamlit script, on a free
    loopback port."""

    def __init__(self, env: dict[str, str], log: Path, script: Path | None = None) -> None:
        self.port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("BUCKETPIPE_", "AWS_"))}
        clean.pop("REDIS_URL", None)
        argv = command(self.port, "127.0.0.1")
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [str(script) if a == str(APP) and script else a for a in argv],
            env={**clean, **env, **SERVER_ENV},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"streamlit exited; see {log}"
            if healthy(self.port):
                return
            time.sleep(0.2)
        raise AssertionError(f"streamlit did not report healthy on {self.port}; see {log}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def reingested_lake(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    """The demo market and a generic CSV, cleaned; then the same days again from another
    seed (other prices, moved release dates, other rejected rows), cleaned on their own."""
    root = tmp_path_factory.mktemp("reingested-lake")
    weather_csv(root / "source" / "weather" / "readings.csv")
    env = lake_env(
        root, BUCKETPIPE_DEMO_DAYS=str(DEMO_DAYS), BUCKETPIPE_SOURCE=str(root / "source")
    )
    again = ["ingest", "demo", "--seed", "13", "--run-id", "demo-again"]
    run_pipeline(env, ["ingest", "demo"], ["ingest", "bucket"], ["clean"], again, ["clean"])
    return DemoLake(root, env)


@pytest.fixture(scope="module")
def dashboard(reingested_lake: DemoLake) -> Iterator[Dashboard]:
    server = Dashboard(reingested_lake.env, reingested_lake.root / "streamlit.log")
    yield server
    server.stop()


def settle(page: Any, timeout_s: float = 60) -> None:
    """Wait until the script has finished running and the page stopped changing."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        skeleton = page.locator('[data-testid="stSkeleton"]').count() > 0
        if running or skeleton:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.5:
            return
        time.sleep(0.25)
    raise AssertionError("the page did not settle")


def assert_no_failures(page: Any, name: str) -> None:
    failures = page.locator(FAILURES)
    texts = [failures.nth(i).inner_text() for i in range(failures.count())]
    assert not texts, f"{name}: {texts}"


class Shots:
    """Where the screenshots go, and from which dashboard: the page under test (written to a
    temp dir), or with `--update-screenshots` the same page of a dashboard over the demo lake
    delivered twice alike (docs/screenshots/), as a schedule delivers it: the lake under test
    holds two seeds, two markets, and the README shows one."""

    def __init__(self, folder: Path, showcase: Dashboard | None) -> None:
        self.folder = folder
        self.showcase = showcase

    def take(self, browser: Any, page: Any, name: str, suffix: str, width: int) -> None:
        path = self.folder / f"{name}{suffix}.png"
        if self.showcase is None:
            screenshot(page, path, width)
            return
        shown = load(browser, self.showcase, name, width)
        screenshot(shown, path, width)
        shown.close()


@pytest.fixture(scope="module")
def shots(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shots]:
    if not request.config.getoption("--update-screenshots"):
        yield Shots(tmp_path_factory.mktemp("screenshots"), None)
        return
    root = tmp_path_factory.mktemp("showcase-lake")
    weather_csv(root / "source" / "weather" / "readings.csv")
    env = lake_env(
        root, BUCKETPIPE_DEMO_DAYS=str(DEMO_DAYS), BUCKETPIPE_SOURCE=str(root / "source")
    )
    # Two deliveries of the same days, as a schedule makes them: a score trend to show.
    again = ["ingest", "demo", "--run-id", "demo-again"]
    run_pipeline(env, ["ingest", "demo"], ["ingest", "bucket"], ["clean"], again, ["clean"])
    server = Dashboard(env, root / "streamlit.log")
    yield Shots(SCREENSHOTS, server)
    server.stop()


def screenshot(page: Any, path: Path, width: int) -> None:
    """The whole page, not only the viewport: the main area scrolls inside the window."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": width, "height": min(max(int(height), 900), 4000)})
    time.sleep(1.0)  # plotly redraws after a resize
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 900})
    assert path.stat().st_size > 10_000


def load(browser: Any, dashboard: Dashboard, name: str, width: int) -> Any:
    path, marker = PAGES[name]
    page = browser.new_page(viewport={"width": width, "height": 900})
    chart_errors: list[str] = []
    page.on("console", lambda m: chart_errors.append(m.text) if is_chart_error(m) else None)
    # Nothing is fetched from anywhere but the dashboard (a private or offline deployment
    # reaches nothing else; the page icon was once asked of fonts.gstatic.com).
    elsewhere: list[str] = []
    local = (dashboard.url, "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else elsewhere.append(r.url))
    page.goto(f"{dashboard.url}/{path}")
    settle(page)
    if name == "sql":
        editor = page.get_by_role("textbox", name="Query")
        editor.fill(
            "SELECT symbol, day, close, rsi_14, macd_hist\nFROM daily_indicators\n"
            "WHERE day = (SELECT max(day) FROM daily_indicators)\nORDER BY symbol"
        )
        page.get_by_role("button", name="Run").click()
        page.wait_for_selector("text=rows in", timeout=30_000)
        settle(page)
    assert_no_failures(page, f"{name} at {width} px")
    # A chart Vega cannot draw stays blank, with no Streamlit error: only the console says so.
    failed = [e.splitlines()[0] for e in chart_errors]
    assert not failed, f"{name} at {width} px: a chart failed to draw: {failed}"
    assert not elsewhere, f"{name} at {width} px: requests beyond the dashboard: {elsewhere[:3]}"
    assert page.get_by_text(marker).first.is_visible()
    return page


def is_chart_error(message: Any) -> bool:
    """A console error of Vega's renderer (it logs "ERROR <exception>")."""
    return bool(message.type == "error" and str(message.text).startswith("ERROR"))


def truncated(page: Any) -> list[str]:
    """Texts of metric tiles cut short (an ellipsis, or wider than their box)."""
    found: list[str] = page.evaluate(TRUNCATED)
    return found


def uneven_tiles(page: Any) -> list[str]:
    """Labels of metric tiles whose width differs from the other tiles of their row, or whose
    height differs from the tiles beside them on the same line."""
    found: list[str] = page.evaluate(UNEVEN_TILES)
    return found


def clipped_chart_text(page: Any) -> list[str]:
    """Texts of Vega-Lite charts (legend labels, axis labels, labels over bars) drawn past
    an edge of the chart, where the page cuts them off."""
    found: list[str] = page.evaluate(CLIPPED_CHART_TEXT)
    return found


def overflow(page: Any) -> dict[str, int]:
    """How far the page scrolls sideways (0: it fits the window)."""
    found: dict[str, int] = page.evaluate(OVERFLOW)
    return found


TRUNCATED = """() => Array.from(document.querySelectorAll('[data-testid="stMetric"]'))
  .flatMap(tile => [tile, ...tile.querySelectorAll('*')])
  .filter(e => e.scrollWidth > e.clientWidth + 1 || getComputedStyle(e).textOverflow === 'ellipsis'
    && e.scrollWidth > e.clientWidth)
  .map(e => e.innerText.trim()).filter(t => t)"""
UNEVEN_TILES = """() => Array.from(document.querySelectorAll('[class*="st-key-TILES-"]'))
  .flatMap(row => {
    const tiles = Array.from(row.querySelectorAll('[data-testid="stMetric"]'))
      .map(t => ({label: t.innerText.split('\\n')[0], box: t.getBoundingClientRect()}));
    const width = tiles.length ? tiles[0].box.width : 0;
    return tiles.filter(t => Math.abs(t.box.width - width) > 1
      || tiles.some(o => Math.abs(o.box.top - t.box.top) < 1
                         && Math.abs(o.box.height - t.box.height) > 1))
      .map(t => t.label);
  })""".replace("TILES", TILES_KEY)
# A rotated axis title's box reaches 2 px past the left edge with its glyphs inside: 3 px there.
CLIPPED_CHART_TEXT = """() => Array.from(document.querySelectorAll('.vega-embed'))
  .flatMap(chart => {
    const box = chart.getBoundingClientRect();
    return Array.from(chart.querySelectorAll('svg text')).filter(t => {
      const r = t.getBoundingClientRect();
      return t.textContent.trim() && r.width > 0 && (r.right > box.right + 1
        || r.left < box.left - 3 || r.top < box.top - 1 || r.bottom > box.bottom + 1);
    }).map(t => t.textContent.trim());
  })"""
OVERFLOW = """() => ({
  document: document.documentElement.scrollWidth - window.innerWidth,
  main: document.querySelector('[data-testid="stMain"]').scrollWidth
        - document.querySelector('[data-testid="stMain"]').clientWidth})"""


def metric_value(page: Any, label: str) -> str:
    tile = page.locator('[data-testid="stMetric"]', has_text=label).first
    return str(tile.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def sidebar_open(page: Any) -> bool:
    box = page.locator('[data-testid="stSidebar"]').bounding_box()
    return box is not None and box["x"] + box["width"] > 10


@pytest.mark.parametrize("name", list(PAGES))
def test_page_at_desktop_and_laptop_widths(
    browser: Any, dashboard: Dashboard, name: str, shots: Shots
) -> None:
    """1280 px (screenshot for the README), then the same page narrowed to 1024 px."""
    page = load(browser, dashboard, name, 1280)
    assert "Services" in page.locator('[data-testid="stSidebarUserContent"]').inner_text()
    assert sidebar_open(page)
    assert truncated(page) == [], f"{name} at 1280 px"
    shots.take(browser, page, name, "", 1280)
    page.set_viewport_size({"width": 1024, "height": 900})
    time.sleep(1.0)
    assert truncated(page) == [], f"{name} at 1024 px"
    assert uneven_tiles(page) == [], f"{name} at 1024 px"
    if name in TILED:  # five tiles where four fit: four, then one as wide, not stretched
        assert page.locator(f'[class*="st-key-{TILES_KEY}-"]').count() > 0, name
    assert clipped_chart_text(page) == [], f"{name} at 1024 px"
    assert overflow(page)["document"] <= 0
    assert_no_failures(page, f"{name} at 1024 px")
    page.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_on_a_phone(browser: Any, dashboard: Dashboard, name: str, shots: Shots) -> None:
    """390 px: sidebar closed, nothing scrolls sideways, no tile cut short."""
    page = load(browser, dashboard, name, 390)
    assert not sidebar_open(page), f"{name}: the sidebar covers the page on a phone"
    assert overflow(page) == {"document": 0, "main": 0}, name
    assert truncated(page) == [], f"{name} at 390 px"
    assert uneven_tiles(page) == [], f"{name} at 390 px"
    assert clipped_chart_text(page) == [], f"{name} at 390 px"
    shots.take(browser, page, name, "-phone", 390)
    page.close()


@pytest.fixture(scope="module")
def lake_sql(reingested_lake: DemoLake) -> Iterator[Callable[[str], Any]]:
    """The first row of a query over the same snapshots the dashboard reads."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in reingested_lake.env.items():
            mp.setenv(name, value)
        session = LakeSession.from_settings(Settings())
    session.sync()

    def first_row(sql: str) -> Any:
        with session.cursor() as cursor:
            return cursor.execute(sql).fetchone()

    yield first_row
    session.close()


def test_key_numbers_equal_sql_over_the_same_snapshot(
    browser: Any, dashboard: Dashboard, lake_sql: Callable[[str], Any]
) -> None:
    page = load(browser, dashboard, "overview", 1280)
    (symbols,) = lake_sql("SELECT count(DISTINCT symbol) FROM quotes")
    assert metric_value(page, "Active stocks") == str(symbols)
    page.close()
    page = load(browser, dashboard, "stock", 1280)
    (close,) = lake_sql(
        "SELECT close FROM daily_bars WHERE symbol = 'AAPL' ORDER BY day DESC LIMIT 1"
    )
    assert metric_value(page, "Last close") == f"{close:,.2f}"
    page.close()
    page = load(browser, dashboard, "explore", 1280)
    (rows,) = lake_sql("SELECT count(*) FROM daily_indicators")
    assert metric_value(page, "Rows") == f"{rows:,}"
    assert metric_value(page, "Last commit")  # the commit's age, named as such
    page.close()


def test_a_reingest_raises_no_false_alarm(
    browser: Any, dashboard: Dashboard, lake_sql: Callable[[str], Any]
) -> None:
    """Overlapping deliveries, cleaned one after the other: every dataset's committed data is
    unique, so every report passes, and each day's bar closes at its last committed quote."""
    (reports,) = lake_sql("SELECT count(DISTINCT dataset) FROM quality_reports")
    page = load(browser, dashboard, "quality", 1280)
    assert metric_value(page, "Passing every threshold") == f"{reports} of {reports}"
    page.close()
    (disagreeing,) = lake_sql(
        "WITH q AS (SELECT symbol, CAST(timezone('America/New_York', ts) AS DATE) AS day, "
        "arg_max(price, ts) AS close FROM quotes GROUP BY ALL) SELECT count(*) FROM q "
        "LEFT JOIN daily_bars AS b USING (symbol, day) WHERE b.close IS DISTINCT FROM q.close"
    )
    assert disagreeing == 0


def test_navigation_keeps_the_sidebar_and_errors_stay_one_line(
    browser: Any, dashboard: Dashboard
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(dashboard.url)
    settle(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="SQL").click()
    settle(page)
    assert "clean" in page.locator('[data-testid="stSidebarUserContent"]').inner_text()
    page.get_by_role("textbox", name="Query").fill("SELECT * FROM read_csv('/etc/passwd')")
    page.get_by_role("button", name="Run").click()
    alert = page.locator('[data-testid="stAlertContentError"]')
    alert.wait_for(timeout=30_000)
    assert "reads files or URLs" in alert.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_live_refresh_shows_new_commits_without_a_reload(browser: Any, tmp_path: Path) -> None:
    env = {
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_REFRESH_SECONDS": "2",
        "BUCKETPIPE_LOG_FORMAT": "json",
    }
    server = Dashboard(env, tmp_path / "streamlit.log")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(server.url)
        settle(page)
        assert page.get_by_text("No quotes have been committed yet").is_visible()
        run_pipeline({**env, "BUCKETPIPE_DEMO_DAYS": "5"}, ["ingest", "demo"], ["clean"])
        # No reload: the fragment notices the new snapshot versions and reruns the page.
        page.get_by_text("Active stocks").wait_for(timeout=30_000)
        assert_no_failures(page, "overview after a commit")
        page.close()
    finally:
        server.stop()


def test_missing_chromium_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        chromium()


def test_missing_chromium_skips_on_a_workstation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        chromium()
