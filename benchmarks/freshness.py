"""How fresh the data is: from an ingest run's commit to its rows being readable.

A real redis-server and a `bucketpipe clean --watch` process (as the clean-watch Deployment
runs it) watch a local lake. Ingest runs of the demo source are committed one after another,
each with a clock 15 minutes later than the last, so each lands candles no earlier run had
(the rows a stock page shows; every demo run also brings the other datasets). For each
run the section records:

- `dashboard_s`: from the ingest manifest's commit time until the dashboard's read path (a fresh
  DuckDB connection with the lake's views, as a page opens them) returns the run's rows;
- `sql_s`: until `bucketpipe sql` (a new process, as a user types it) returns them, which adds
  the CLI's start-up;
- `clean_pass_s`: how long the watcher's clean of that run took (its manifest).

Without the watcher, a clean CronJob running `offset` minutes after each ingest makes the data
that much older plus the clean's own time; the section states that figure from the measured
clean passes rather than waiting out a schedule.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.history import fixed_clock
from benchmarks.services import RedisProcess
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.duck import connect
from bucketpipe.lake.runs import RunLog
from bucketpipe.lake.storage import LocalStore
from bucketpipe.serve.reader import LakeReader

log = logging.getLogger(__name__)

POLL_S = 0.1  # how often the dashboard's read path is tried
GIVE_UP_S = 180.0  # a run not readable by then is recorded as missed
CRONJOB_OFFSET_MIN = 5  # the example clean CronJob runs 5 minutes after each ingest


def measure(base: Settings, work: Path, *, runs: int, gap_s: float) -> dict[str, Any]:
    """Commit `runs` ingest runs `gap_s` apart under a watcher; per-run and summary figures."""
    # The runs' market clocks step 15 minutes each and end now (rows from the future would be
    # judged invalid by clean).
    start = datetime.now(UTC) - timedelta(minutes=15 * runs)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    redis = RedisProcess()
    settings = base.model_copy(
        update={"lake": str(work / "lake"), "redis_url": redis.url, "temp_dir": str(work / "tmp")}
    )
    env = _env(settings, work)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "bucketpipe", "clean", "--watch"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "watch.log").open("w"),
    )
    ctx = Context.from_settings(settings)
    try:
        per_run = []
        for index in range(runs):
            ctx.clock = fixed_clock(start + timedelta(minutes=15 * index))
            run_id = f"fresh-{index}"
            ingest_demo(ctx, run_id=run_id, symbols=["AAPL", "MSFT"], days=1,
                        interval_minutes=15, seed=index)  # fmt: skip
            # The commit is the last thing the ingest does: this moment is its commit time
            # (the manifest's own times follow the run's market clock).
            committed = datetime.now(UTC)
            per_run.append(_follow(settings, env, run_id, committed))
            time.sleep(gap_s)
    finally:
        watcher.terminate()
        watcher.wait(timeout=60)
        ctx.close()
        redis.stop()
    out = _summary(per_run)
    shutil.rmtree(work, ignore_errors=True)
    return out


def _env(settings: Settings, work: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "BUCKETPIPE_LAKE": settings.lake,
        "BUCKETPIPE_TEMP_DIR": settings.temp_dir,
        "REDIS_URL": str(settings.redis_url),
        "BUCKETPIPE_REFRESH_SECONDS": "300",
        "BUCKETPIPE_LOG_LEVEL": "WARNING",
    }


def _follow(
    settings: Settings, env: dict[str, str], run_id: str, committed: datetime
) -> dict[str, Any]:
    """Time from the run's commit until its rows are readable, on both read paths."""
    store = LocalStore(Path(settings.lake))
    manifest = RunLog(store).read("ingest", run_id)
    query = f"SELECT count(*) FROM candles WHERE _ingest_run = '{manifest.input_id}'"
    deadline = time.monotonic() + GIVE_UP_S
    dashboard_s = None
    while time.monotonic() < deadline:
        if _dashboard_rows(settings, store, query):
            dashboard_s = _since(committed)
            break
        time.sleep(POLL_S)
    sql_s = None
    if dashboard_s is not None:
        answer = subprocess.run(
            [sys.executable, "-m", "bucketpipe", "sql", "--format", "csv", query],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        rows = answer.stdout.strip().splitlines()[-1:] if answer.returncode == 0 else []
        if rows and rows[0].isdigit() and int(rows[0]) > 0:
            sql_s = _since(committed)
    return {
        "run": run_id,
        "dashboard_s": dashboard_s,
        "sql_s": sql_s,
        "clean_pass_s": _clean_seconds(store, manifest.input_id),
    }


def _dashboard_rows(settings: Settings, store: LocalStore, query: str) -> int:
    con = connect(settings, threads=1)
    try:
        if "candles" not in LakeReader(store).register_views(con, ["candles"]):
            return 0
        row = con.execute(query).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def _clean_seconds(store: LocalStore, input_id: str) -> float | None:
    runlog = RunLog(store)
    for manifest in runlog.recent("clean", limit=20):
        if input_id in manifest.inputs:
            return round(manifest.duration_s, 2)
    return None


def _since(moment: datetime) -> float:
    return round((datetime.now(UTC) - moment).total_seconds(), 2)


def _summary(per_run: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float | None]:
        values = sorted(r[key] for r in per_run if r[key] is not None)
        if not values:
            return {"p50": None, "p95": None, "max": None}
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        return {"p50": round(statistics.median(values), 2), "p95": p95, "max": values[-1]}

    passes = stats("clean_pass_s")
    worst_pass = passes["p95"] or 0.0
    return {
        "runs": len(per_run),
        "missed": sum(1 for r in per_run if r["dashboard_s"] is None),
        "watcher": {
            "dashboard_s": stats("dashboard_s"),
            "sql_s": stats("sql_s"),
            "clean_pass_s": passes,
        },
        "cronjob_only": {
            "offset_minutes": CRONJOB_OFFSET_MIN,
            "p95_s": round(CRONJOB_OFFSET_MIN * 60 + worst_pass, 1),
            "note": "a clean CronJob `offset_minutes` after each ingest: that wait plus the "
            "clean's own time (the measured p95 clean pass)",
        },
        "per_run": per_run,
    }
