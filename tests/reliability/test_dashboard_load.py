"""Dashboard load: 20 concurrent sessions against `streamlit run bucketpipe/app/main.py` on a
demo lake, for a bounded time, on loopback.

Each session is a tab of one headless chromium (every tab is its own Streamlit session). All of
them open the dashboard at once (a full page load each), then move through the pages as a user
does, by the links in the sidebar, and a few submit a hostile query on the SQL page. No page may
show an exception or an unexpected error; the latency of each page load (until the page shows
its heading and nothing runs or loads any more) is printed, never asserted.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.jobs.dashboard import command, healthy
from tests.conftest import free_port
from tests.reliability.crash_runner import Step
from tests.reliability.harness import (
    Figures,
    Lake,
    lake_env,
    local_lake,
    next_friday_close,
    run_child,
)

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class View:
    """A page: its URL path, its link in the sidebar, and the heading it shows."""

    path: str
    link: str
    heading: str


OVERVIEW = View("", "Overview", "Market overview")
PIPELINE = View("pipeline", "Pipeline", "Pipeline")
SQL = View("sql", "SQL", "SQL")
PAGES = [
    OVERVIEW,
    View("stock?symbol=AAPL", "Stock", "Stock"),
    View("news", "News & calendars", "News & calendars"),
    View("explore?dataset=quotes", "Explore", "Explore"),
    View("quality", "Quality", "Quality"),
    PIPELINE,
    SQL,
]
QUICK_PAGES = [OVERVIEW, PIPELINE, SQL]
FAILURES = '[data-testid="stException"], [data-testid="stAlertContentError"]'
HOSTILE = "SELECT * FROM read_text('/etc/passwd')"
# What a tab shows, in one round trip: the page heading, whether anything is still running or
# loading (the status widget, skeletons), the SQL editor, and every error on the page.
PROBE = f"""() => {{
  const main = document.querySelector('[data-testid="stMain"]');
  const h1 = main ? main.querySelector('h1') : null;
  const count = (s) => document.querySelectorAll(s).length;
  return {{
    heading: h1 ? h1.innerText.trim() : null,
    busy: count('[data-testid="stStatusWidget"]') + count('[data-testid="stSkeleton"]'),
    editor: count('textarea[aria-label="Query"]'),
    failures: [...document.querySelectorAll('{FAILURES}')].map((e) => e.innerText),
  }};
}}"""
CLICK = """(text) => {
  const links = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')];
  // The label sits beside the icon (whose ligature is text too).
  const label = (a) => [a, ...a.querySelectorAll("span")].map((e) => e.innerText.trim());
  const link = links.find((a) => label(a).includes(text));
  if (link) link.click();
  return Boolean(link);
}"""
QUIET_S = 1.5


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                         else None)  # fmt: skip
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (apt-get install -y chromium); CI needs it")
    pytest.skip("chromium is not installed: apt-get install -y chromium")


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A week of the demo market, every endpoint, ingested and cleaned."""
    lake = local_lake(tmp_path_factory.mktemp("load"))
    friday = next_friday_close(datetime.now(UTC)).isoformat()
    for step in (
        Step("ingest", "i1", friday, days=7, endpoints=None),
        Step("clean", "c1", friday),
    ):
        child = run_child(lake, step)
        assert child.exitcode == 0, child.describe()
    return lake


@pytest.fixture(scope="module")
def dashboard(demo_lake: Lake) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUCKETPIPE_", "AWS_"))}
    env.pop("REDIS_URL", None)
    env |= lake_env(demo_lake)
    log = (demo_lake.root / "streamlit.log").open("w")
    process = subprocess.Popen(
        command(port, "127.0.0.1"), env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "streamlit exited; see streamlit.log"
            if healthy(port):
                break
            assert time.monotonic() < deadline, "streamlit did not report healthy"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass
class Session:
    """One browser tab (one Streamlit session) and the page load it is waiting for."""

    page: Any
    index: int
    view: View = OVERVIEW
    hostile: bool = False  # waiting for the refusal of the hostile query
    started: float = 0.0
    quiet_since: float | None = None
    first_load: float | None = None
    loads: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hostile_sent: bool = False
    shown: dict[str, Any] = field(default_factory=dict)

    def open(self, base: str, view: View) -> None:
        """A new session: load the dashboard in the tab (a full page load)."""
        self.view, self.hostile = view, False
        self.started, self.quiet_since = time.monotonic(), None
        self.page.goto(f"{base}/{view.path}", wait_until="commit")

    def navigate(self, view: View) -> None:
        """Move to another page the way a user does: its link in the sidebar."""
        self.view, self.hostile = view, False
        self.started, self.quiet_since = time.monotonic(), None
        assert self.page.evaluate(CLICK, view.link), f"no sidebar link {view.link!r}"

    def submit_hostile(self) -> None:
        self.page.get_by_role("textbox", name="Query").fill(HOSTILE)
        self.page.get_by_role("button", name="Run").click()
        self.hostile, self.started, self.quiet_since = True, time.monotonic(), None
        self.hostile_sent = True

    def settled(self) -> bool:
        """True once the page shows its heading, nothing runs or loads, and it stayed so for
        a moment."""
        shown = self.shown = self.page.evaluate(PROBE)
        busy = (
            not str(shown["heading"] or "").startswith(self.view.heading)
            or shown["busy"] > 0
            or (self.view is SQL and shown["editor"] == 0)
            or (self.hostile and not shown["failures"])
        )
        now = time.monotonic()
        if busy:
            self.quiet_since = None
            return False
        if self.quiet_since is None:
            self.quiet_since = now
        return now - self.quiet_since >= QUIET_S

    def record(self) -> None:
        assert self.quiet_since is not None
        latency = self.quiet_since - self.started
        name = f"{self.view.link} (hostile query)" if self.hostile else self.view.link
        if self.first_load is None:
            self.first_load = latency
        else:
            self.loads.append((name, latency))
        texts: list[str] = self.shown["failures"]
        expected = [t for t in texts if self.hostile_sent and "reads files or URLs" in t]
        unexpected = [t for t in texts if t not in expected]
        if unexpected:
            self.errors.append(f"{name}: {unexpected}")
        if self.hostile and not expected:
            self.errors.append(f"{self.index}: the hostile query was not refused on the page")


def drive(
    browser: Any, base: str, count: int, seconds: float, figures: Figures, pages: list[View]
) -> list[Session]:
    """Open every session at once, then let each move through the pages until `seconds`
    pass after the last one opened; each ends its last load."""
    # One browser context: every tab is its own Streamlit session (its own websocket), while
    # the tabs share the browser's cache of the app's scripts, as a user's tabs do.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    sessions = [Session(context.new_page(), index) for index in range(count)]
    for session in sessions:
        session.open(base, pages[session.index % len(pages)])
    stop_at: float | None = None
    waiting = set(range(count))
    hard_stop = time.monotonic() + 600 + seconds
    while waiting:
        assert time.monotonic() < hard_stop, f"{len(waiting)} sessions never settled"
        if stop_at is None and all(s.first_load is not None for s in sessions):
            stop_at = time.monotonic() + seconds
            figures.values["all_open_s"] = round(time.monotonic() - figures.started, 1)
        for session in sessions:
            if session.index not in waiting or not session.settled():
                continue
            session.record()
            if session.view is SQL and not session.hostile_sent and session.index % 2 == 0:
                session.submit_hostile()
                figures.add("hostile_queries")
                continue
            if stop_at is not None and time.monotonic() >= stop_at:
                waiting.discard(session.index)
                continue
            step = len(session.loads) + session.index + 1
            session.navigate(pages[step % len(pages)])
        time.sleep(0.2)
    return sessions


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
    }


def run_load(dashboard: str, count: int, seconds: float, name: str, pages: list[View]) -> None:
    from playwright.sync_api import sync_playwright

    figures = Figures(name)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            sessions = drive(browser, dashboard, count, seconds, figures, pages)
        finally:
            browser.close()
    firsts = [s.first_load for s in sessions if s.first_load is not None]
    loads = [(page, s) for session in sessions for page, s in session.loads]
    errors = [e for session in sessions for e in session.errors]
    by_page: dict[str, list[float]] = {}
    for page, s in loads:
        by_page.setdefault(page, []).append(s)
    figures.values.update(sessions=count, first_loads=len(firsts), page_loads=len(loads))
    figures.values["errors"] = len(errors)
    figures.values.update({f"first_load_{k}_s": v for k, v in spread(firsts).items()})
    figures.values.update({f"page_{k}_s": v for k, v in spread([s for _, s in loads]).items()})
    figures.report()
    for page, values in sorted(by_page.items()):
        print(f"    {page}: {len(values)} loads, median {statistics.median(values):.2f} s")
    assert not errors, errors[:5]
    assert len(firsts) == count and loads
    assert figures.values.get("hostile_queries", 0) >= 1


@pytest.mark.timeout(900)
def test_sessions_at_once(dashboard: str) -> None:
    """Quick mode: five sessions, three pages, 10 s (the browser's share of two cores is what
    bounds it); long mode below runs the twenty."""
    run_load(dashboard, 5, 10, "dashboard load, 5 sessions for 10 s (quick)", QUICK_PAGES)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_twenty_sessions_for_three_minutes(dashboard: str) -> None:
    run_load(dashboard, 20, 180, "dashboard load, 20 sessions for 180 s (long)", PAGES)
