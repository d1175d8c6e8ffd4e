"""Dashboard pages in a real browser on the S3 lake: page time and store requests per page.

Each page is opened three times. **Cold**: a new `bucketpipe dashboard` process (no snapshot
read, no query cached) and a browser that never visited it (no scripts cached). **Warm**: the
same page again in a new tab of that browser (its data and Streamlit's scripts cached).
**Returning**: another new dashboard process on the same address, opened by that browser, as a
visitor coming back after a restart finds it: the server holds nothing, the browser has
Streamlit's scripts (served as immutable, cached for a year). Page time runs from navigation to
the last change of the page's main area, which is when its last chart was drawn: the script
watches the DOM and the page counts as settled once nothing changed for a while. The counting
proxy in front of moto says how many GET/LIST/HEAD requests each load cost.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from benchmarks.proxy import CountingProxy
from bucketpipe.config.settings import Settings, env_name
from bucketpipe.jobs.dashboard import command, healthy

log = logging.getLogger(__name__)

# page -> URL path (the stock page for the benchmark's symbol)
PAGES = {
    "overview": "",
    "stock": "stock?symbol={symbol}",
    "news": "news",
    "explore": "explore?dataset=daily_bars",
    "quality": "quality",
    "pipeline": "pipeline",
    "sql": "sql",
}
QUICK_PAGES = ("overview", "stock", "explore")  # the quick run's smoke check
GOAL_S = {"overview": 1.0}  # every other page: DEFAULT_GOAL_S
DEFAULT_GOAL_S = 1.5
QUIET_S = 1.5  # no change in the main area for this long: the page is drawn
ENV_FIELDS = (
    "lake",
    "temp_dir",
    "aws_endpoint_url",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_region",
)
# Records when the main area last changed, in ms since navigation started.
WATCH = """
window.__lastChange = 0;
new MutationObserver(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (main && !window.__watching) {
    window.__watching = true;
    new MutationObserver(() => { window.__lastChange = performance.now(); })
      .observe(main, {subtree: true, childList: true, attributes: true, characterData: true});
  }
}).observe(document, {subtree: true, childList: true});
"""


@dataclass(frozen=True)
class PageLoad:
    seconds: float
    requests: dict[str, Any]


def environment(settings: Settings) -> dict[str, str]:
    """The variables that point a dashboard process at the same lake as `settings`."""
    out = {}
    for field in ENV_FIELDS:
        value = getattr(settings, field)
        if value is None:
            continue
        out[env_name(field)] = (
            value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        )
    out["BUCKETPIPE_LOG_LEVEL"] = "WARNING"
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dashboard(env: dict[str, str], log_path: Path, port: int | None = None) -> Iterator[str]:
    """A fresh `bucketpipe dashboard` process (on `port`, else a free one); yields its URL."""
    port = port or _free_port()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("BUCKETPIPE_", "AWS_"))}
    keep.pop("REDIS_URL", None)
    full = {**keep, **env, "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    # A scratch directory of its own, as a new pod has: nothing an earlier process copied
    # there (the quality page's quarantine files) makes its first page warmer than it is.
    scratch = log_path.with_name(log_path.stem + "-tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    full["BUCKETPIPE_TEMP_DIR"] = str(scratch)
    with log_path.open("w") as out:
        proc = subprocess.Popen(command(port, "127.0.0.1"), env=full, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the dashboard did not start; see {log_path}")
                if healthy(port):
                    break
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def load(profile: Any, url: str, proxy: CountingProxy, record: Path | None = None) -> PageLoad:
    """Open `url` in a new tab of `profile` (a Playwright browser context: its cache kept
    between tabs); seconds to the main area's last change, and the requests it cost (each
    one written to `record`, one line per request: kind, HTTP status, path)."""
    page = profile.new_page()
    page.add_init_script(WATCH)
    mark = proxy.reading()
    page.goto(url)
    page.wait_for_selector('[data-testid="stMain"]', timeout=60_000)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        busy = page.locator('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]').count()
        last_ms = float(page.evaluate("window.__lastChange"))
        now_ms = float(page.evaluate("performance.now()"))
        if not busy and last_ms > 0 and now_ms - last_ms > QUIET_S * 1000:
            break
        time.sleep(0.1)
    else:
        raise RuntimeError(f"{url} did not settle")
    requests = proxy.since(mark).as_dict()
    if record is not None:
        lines = (f"{kind}\t{status}\t{path}\n" for kind, path, status in proxy.log_since(mark))
        record.write_text("".join(lines))
    page.close()
    return PageLoad(round(last_ms / 1000, 3), requests)


def chromium() -> str:
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    return found


def measure(
    settings: Settings,
    proxy: CountingProxy,
    symbol: str,
    out_dir: Path,
    names: tuple[str, ...] = tuple(PAGES),
) -> list[dict[str, Any]]:
    """Every page cold (new process, new browser profile), warm (the same page again in a new
    tab) and returning (a new process, the browser's cache kept), in Chromium."""
    from playwright.sync_api import sync_playwright

    env = environment(settings)
    rows: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--headless=new", "--disable-gpu"]
        )
        try:
            for name in names:
                path = PAGES[name].format(symbol=symbol)
                record = out_dir / f"requests-{name}"
                port = _free_port()
                profile = browser.new_context(viewport={"width": 1280, "height": 900})
                try:
                    with dashboard(env, out_dir / f"dashboard-{name}.log", port) as url:
                        cold = load(profile, f"{url}/{path}", proxy, record=_tsv(record, "cold"))
                        warm = load(profile, f"{url}/{path}", proxy, record=_tsv(record, "warm"))
                    with dashboard(env, out_dir / f"dashboard-{name}-2.log", port) as url:
                        back = load(profile, f"{url}/{path}", proxy, record=_tsv(record, "back"))
                finally:
                    profile.close()
                goal = GOAL_S.get(name, DEFAULT_GOAL_S)
                rows.append(
                    {
                        "page": name,
                        "cold_s": cold.seconds,
                        "warm_s": warm.seconds,
                        "returning_s": back.seconds,
                        "goal_s": goal,
                        "requests_cold": cold.requests,
                        "requests_warm": warm.requests,
                        "requests_returning": back.requests,
                    }
                )
                log.info("page measured", extra=rows[-1])
        finally:
            browser.close()
    return rows


def table(results: dict[str, Any]) -> Any:
    """The pages section as a report table."""
    from rich.table import Table

    section = results.get("pages", {})
    out = Table(
        title=f"Dashboard pages in Chromium, S3 lake of {section.get('days')} d x "
        f"{section.get('symbols')} symbols (navigation to the last chart drawn)"
    )
    columns = ("Page", "Cold", "Warm", "Returning", "Goal", "Requests cold", "Requests warm")
    for column in columns:
        out.add_column(column, justify="left" if column == "Page" else "right")
    for row in section.get("pages", []):
        returning = row.get("returning_s")
        out.add_row(
            row["page"],
            f"{row['cold_s']:.2f} s",
            f"{row['warm_s']:.2f} s",
            "-" if returning is None else f"{returning:.2f} s",
            f"{row['goal_s']:.1f} s",
            _reads(row["requests_cold"]),
            _reads(row["requests_warm"]),
        )
    return out


def _tsv(record: Path, visit: str) -> Path:
    return record.with_suffix(f".{visit}.tsv")


def _reads(entry: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in ("total", "bytes"))
    return f"{entry['total']} ({kinds})" if kinds else str(entry["total"])
