"""Scale-out on loopback, time-compressed: many symbols, sharded ingest, clean, dashboard replicas.

1. Ingest: `symbols` quotes fetched by `shards` processes (the `ingest` section's shard
   processes: the real job, its client, one rate limiter shared through a real redis-server)
   from the fake Finnhub server enforcing a paid plan with its windows shortened `compress`
   times. Quota used, 429s, and whether every symbol landed within one ingest interval
   (15 minutes, shortened by the same factor).
2. Clean: `bucketpipe clean` (a new process, as the CronJob runs it) of the resulting sharded
   run. Cleaning is not compressed, so its time is set against the real interval.
3. Dashboard: `replicas` processes, each opening the lake as a dashboard replica does (one
   `LakeSession`), each serving `sessions` concurrent sessions (threads) that replay the
   page queries of the market overview and of a random stock for `duration_s`; twice: through
   the dashboard's own query cache (`bucketpipe.app.state.query`: results kept per data
   version and shared by a process's sessions, as a replica serves them), and straight to
   DuckDB with no cache (every query a miss: the worst case).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from benchmarks import ingest
from benchmarks.ingest import IngestPlan
from benchmarks.stats import percentile

log = logging.getLogger(__name__)

INTERVAL_S = 15 * 60.0  # the ingest schedule's interval
# Goals (docs/benchmarks.md).
QUOTA_GOAL = 0.95
CLEAN_SHARE_GOAL = 0.20
PAGE_P95_GOAL_S = 1.0


@dataclass(frozen=True)
class ScalePlan:
    """Sizes of the section: the full run is 5,000 symbols, 10 shards, 5 x 20 sessions."""

    symbols: int
    shards: int
    per_minute: int  # the paid plan's calls per minute (per second: 30)
    compress: float  # the plan's windows and the interval are this many times shorter
    replicas: int
    sessions: int
    duration_s: float  # how long the sessions replay page queries
    startup_s: float  # time the shard processes get to start before fetching together

    def ingest_plan(self) -> IngestPlan:
        # The per-second limit is scaled in count, over the 1 s window the job's limiter uses.
        return IngestPlan(
            per_window=self.per_minute,
            window_s=60.0 / self.compress,
            per_second=round(30 * self.compress),
            calls=self.symbols,
        )


def table(results: dict[str, Any]) -> Table:
    """The section's figures with their goals, for the report."""
    section = results.get("scale") or {}
    plan = section.get("plan") or {}
    load = ", ".join(f"{v:.1f}" for v in section.get("load_average") or ())
    table = Table(
        title=f"Scale: {plan.get('symbols')} symbols, {plan.get('shards')} ingest shards at "
        f"{section.get('paid_plan')}; {plan.get('replicas')} dashboard replicas x "
        f"{plan.get('sessions')} sessions (load average at the end: {load})"
    )
    for column in ("Figure", "Measured", "Goal", "Met"):
        table.add_column(column)
    for row in section.get("figures", []):
        extra = [f"{k} {row[k]}" for k in ("seconds", "p50_s") if row.get(k) is not None]
        value = str(row["value"]) + (f" ({', '.join(extra)})" if extra else "")
        table.add_row(
            row["figure"], value, row["goal"], {True: "yes", False: "no"}.get(row["met"], "-")
        )
    return table


def figure(name: str, value: Any, goal: str, met: bool | None, **extra: Any) -> dict[str, Any]:
    return {"figure": name, "value": value, "goal": goal, "met": met, **extra}


def measure(plan: ScalePlan, work: Path) -> dict[str, Any]:
    """All three parts; the figures with their goals (`met` judged on the measured values)."""
    work.mkdir(parents=True, exist_ok=True)
    base_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work)}
    started = time.perf_counter()
    fetched = ingest.measure(
        plan.ingest_plan(), plan.shards, work / "ingest", startup_s=plan.startup_s
    )
    parts = {"ingest_s": round(time.perf_counter() - started, 1)}
    lake = work / "ingest" / f"ingest-lake-{plan.shards}"
    interval_s = INTERVAL_S / plan.compress
    landed_in_s = fetched["seconds"]
    cleaned = clean_run(lake, work, base_env)
    parts["clean_s"] = round(time.perf_counter() - started - parts["ingest_s"], 1)
    served = dashboard(lake, work, plan, cached=True)
    uncached = dashboard(lake, work, plan, cached=False)
    parts["dashboard_s"] = round(time.perf_counter() - started - sum(parts.values()), 1)
    landed = cleaned.get("symbols") or 0
    quota = fetched["quota_used"]
    figures = [
        figure("quota used", quota, f">= {QUOTA_GOAL:.0%}", _at_least(quota, QUOTA_GOAL)),
        figure("HTTP 429", fetched["http_429"], "0", fetched["http_429"] == 0),
        figure(
            "symbols landed in one interval",
            landed,
            f"all {plan.symbols} within {interval_s:g} s (15 min / {plan.compress:g})",
            landed == plan.symbols and landed_in_s <= interval_s,
            seconds=landed_in_s,
        ),
        figure(
            "clean, share of the interval",
            cleaned.get("share"),
            f"<= {CLEAN_SHARE_GOAL:.0%} of 15 min",
            _at_most(cleaned.get("share"), CLEAN_SHARE_GOAL),
            seconds=cleaned.get("seconds"),
        ),
        figure(
            "page query p95 (through the dashboard's cache)",
            served["p95_s"],
            f"<= {PAGE_P95_GOAL_S:g} s",
            _at_most(served["p95_s"], PAGE_P95_GOAL_S),
            p50_s=served["p50_s"],
        ),
        figure(
            "page query p95 (no cache: every query a miss)",
            uncached["p95_s"],
            "- (the worst case, not judged)",
            None,
            p50_s=uncached["p50_s"],
        ),
        figure(
            "page query errors",
            served["errors"] + uncached["errors"],
            "0",
            served["errors"] + uncached["errors"] == 0,
        ),
    ]
    return {
        "plan": asdict(plan),
        "paid_plan": f"{plan.per_minute}/min and 30/s, windows {plan.compress:g}x shorter",
        "interval_s": interval_s,
        "ingest": fetched,
        "clean": cleaned,
        "dashboard": served,
        "dashboard_uncached": uncached,
        "figures": figures,
        "part_seconds": parts,
        "load_average": os.getloadavg(),
    }


def _at_least(value: float | None, goal: float) -> bool | None:
    return None if value is None else value >= goal


def _at_most(value: float | None, goal: float) -> bool | None:
    return None if value is None else value <= goal


def clean_run(lake: Path, work: Path, base_env: dict[str, str]) -> dict[str, Any]:
    """`bucketpipe clean` of the sharded ingest run, in its own process, timed end to end."""
    env = base_env | {
        "BUCKETPIPE_LAKE": str(lake),
        "BUCKETPIPE_TEMP_DIR": str(work / "tmp"),
        "BUCKETPIPE_LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bucketpipe", "clean", "--run-id", "scale-clean"],
        env=env,
        capture_output=True,
        text=True,
        timeout=INTERVAL_S,
    )
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {"seconds": round(seconds, 3), "returncode": done.returncode}
    if done.returncode != 0:
        out["error"] = done.stderr.strip()[-500:]
        return out
    out["share"] = round(seconds / INTERVAL_S, 4)
    out["symbols"] = _count(lake, "SELECT count(DISTINCT symbol) FROM quotes")
    out["inputs"] = _count(lake, "SELECT count(DISTINCT _ingest_run) FROM quotes")
    return out


def _count(lake: Path, sql: str) -> int:
    from bucketpipe.config.settings import Settings
    from bucketpipe.serve.queries.session import LakeSession

    session = LakeSession.from_settings(Settings(lake=str(lake), redis_url=None))
    session.sync()
    try:
        with session.cursor() as cursor:
            row = cursor.execute(sql).fetchone()
        return int(row[0]) if row else 0
    finally:
        session.close()


@dataclass(frozen=True)
class ReplicaJob:
    """What one dashboard replica process needs (picklable)."""

    lake: str
    temp_dir: str
    sessions: int
    duration_s: float
    start_at: float
    seed: int
    cached: bool = False


def replica(job: ReplicaJob) -> dict[str, Any]:
    """One dashboard process: one LakeSession, `sessions` threads replaying page queries."""
    from bucketpipe.config.settings import Settings
    from bucketpipe.serve.queries import market, stock
    from bucketpipe.serve.queries.session import LakeSession

    settings = Settings(lake=job.lake, temp_dir=job.temp_dir, redis_url=None, log_level="ERROR")
    session = LakeSession.from_settings(settings)
    session.sync()
    with session.cursor() as cursor:
        symbols = stock.symbols(cursor)
    ask_page = _cached_queries(job) if job.cached else _direct_queries(session)
    latencies: list[float] = []
    errors: list[str] = []
    guard = threading.Lock()
    # Each query's own time, by query function: a list per session, joined at the end, so
    # timing them takes no lock between a page's queries.
    timings: list[dict[str, list[float]]] = []

    def browse(seed: int) -> None:
        rng = random.Random(seed)
        end = time.monotonic() + job.duration_s
        own: dict[str, list[float]] = {}
        with guard:
            timings.append(own)

        def ask(fn: Any, *args: Any) -> Any:
            started = time.perf_counter()
            result = ask_page(fn, *args)
            own.setdefault(f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}", []).append(
                time.perf_counter() - started
            )
            return result

        while time.monotonic() < end:
            symbol = rng.choice(symbols) if symbols else "AAPL"
            started = time.perf_counter()
            try:
                if rng.random() < 0.5:
                    ask(market.latest_quotes)
                else:
                    bounds = ask(stock.day_bounds, symbol)
                    if bounds is not None:
                        ask(stock.bars, symbol, *bounds)
                        ask(stock.indicators, symbol, *bounds)
            except Exception as exc:  # every failure is a figure, not a crash
                with guard:
                    errors.append(f"{exc.__class__.__name__}: {str(exc)[:200]}")
                continue
            with guard:
                latencies.append(time.perf_counter() - started)

    time.sleep(max(0.0, job.start_at - time.time()))
    threads = [
        threading.Thread(target=browse, args=(job.seed * 1000 + n,)) for n in range(job.sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.close()
    queries: dict[str, list[float]] = {}
    for own in timings:
        for name, seconds in own.items():
            queries.setdefault(name, []).extend(seconds)
    return {"latencies": latencies, "errors": errors, "queries": queries}


Ask = Any  # (query function, *args) -> its result


def _direct_queries(session: Any) -> Ask:
    """Each query straight to DuckDB on the replica's session."""

    def ask(fn: Any, *args: Any) -> Any:
        with session.cursor() as cursor:
            return fn(cursor, *args)

    return ask


def _cached_queries(job: ReplicaJob) -> Ask:
    """Each query through the dashboard's cache (`state.query`), as its pages ask them."""
    os.environ.update(
        {
            "BUCKETPIPE_LAKE": job.lake,
            "BUCKETPIPE_TEMP_DIR": job.temp_dir,
            "BUCKETPIPE_REDIS_URL": "",
            "BUCKETPIPE_LOG_LEVEL": "ERROR",
        }
    )
    from bucketpipe.app import state
    from bucketpipe.serve.queries import market

    # Streamlit's caches work without a running server; it says so once per function (its
    # loggers are set up when it is imported).
    for name in ("streamlit", "streamlit.runtime.caching.cache_data_api"):
        logging.getLogger(name).setLevel(logging.ERROR)

    overview = market.reads(state.lake().ready)

    def ask(fn: Any, *args: Any) -> Any:
        if fn is market.latest_quotes:
            return state.query(fn, datasets=overview)
        return state.query(fn, *args)

    return ask


def dashboard(lake: Path, work: Path, plan: ScalePlan, *, cached: bool) -> dict[str, Any]:
    """`replicas` processes x `sessions` sessions replaying page queries at once."""
    start_at = time.time() + plan.startup_s
    jobs = [
        ReplicaJob(
            str(lake), str(work / "tmp"), plan.sessions, plan.duration_s, start_at, n, cached
        )
        for n in range(plan.replicas)
    ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=plan.replicas, mp_context=context) as pool:
        results = list(pool.map(replica, jobs))
    latencies = [t for r in results for t in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]
    by_query: dict[str, list[float]] = {}
    for r in results:
        for name, seconds in r["queries"].items():
            by_query.setdefault(name, []).extend(seconds)
    return {
        "cached": cached,
        "replicas": plan.replicas,
        "sessions_per_replica": plan.sessions,
        "page_queries": len(latencies),
        "p50_s": round(percentile(latencies, 50), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        # Each query function's own calls (a page is one or three of them).
        "queries": {
            name: {
                "calls": len(seconds),
                "p50_s": round(percentile(seconds, 50), 4),
                "p95_s": round(percentile(seconds, 95), 4),
            }
            for name, seconds in sorted(by_query.items())
        },
    }
