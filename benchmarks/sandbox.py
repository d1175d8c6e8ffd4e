"""The SQL sandbox: what its worker process adds to an ordinary query, and its bounds under attack.

An ordinary query is timed twice on the same views and Parquet files: once answered in this
process (the parse-tree validation, then DuckDB, as the sandbox did before it had workers),
once through a `SqlSession` (validation and DuckDB in a worker, the rows back over a pipe as
Arrow). The difference of the medians is the worker's cost. Then a few hostile queries run to
their limits, and their wall time and the worker's peak resident memory are recorded.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.lake.commits import commit
from bucketpipe.lake.duck import quote_ident, read_parquet_sql, sql_list
from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry
from bucketpipe.serve.queries.session import open_sandbox
from bucketpipe.serve.sandbox.limits import RSS_HEADROOM, parse_bytes
from bucketpipe.serve.sandbox.session import SqlSession
from bucketpipe.serve.sandbox.validator import Validator
from bucketpipe.serve.sandbox.worker import collect

log = logging.getLogger(__name__)

ORDINARY = {
    "aggregate": "SELECT symbol, avg(price) AS p, count(*) AS n FROM quotes GROUP BY ALL "
    "ORDER BY 1",
    "100 rows": "SELECT * FROM quotes ORDER BY ts LIMIT 100",
    "constant": "SELECT 1 AS one",
}
ATTACKS = {
    "list of 10^8 (memory)": "SELECT len(range(100000000)) AS n",
    "1 GB string (memory)": "SELECT length(repeat('x', 1000000000)) AS n",
    "cross join (time)": "SELECT count(*) FROM quotes a, quotes b, quotes c",
    "wide rows (result bytes)": "SELECT repeat('y', 10000) AS wide FROM range(100000)",
    "sort spill (disk)": "SELECT * FROM range(200000000) ORDER BY random() LIMIT 1",
}


def build_lake(settings: Settings, rows: int) -> None:
    """One `quotes` dataset of `rows` rows (20 symbols, one file per 100,000 rows)."""
    store = lake_store(settings)
    work = Path(settings.temp_dir) / "sandbox-build"
    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    entries = []
    for part in range(max(1, rows // 100_000)):
        path = work / f"q{part}.parquet"
        count = min(100_000, rows - part * 100_000)
        con.execute(
            "COPY (SELECT 'S' || (range % 20) AS symbol, "
            "TIMESTAMPTZ '2026-01-01' + INTERVAL (range) SECOND AS ts, "
            f"100 + (range % 997) / 10.0 AS price FROM range({count})) "
            f"TO '{path}' (FORMAT parquet)"
        )
        key = clean_key("quotes", "2026-01-01", f"f{part}")
        store.upload(key, path)
        entries.append(FileEntry(key=key, rows=count, partition="2026-01-01"))
    commit(store, "quotes", run_id="bench", add=entries)


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
    }


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def in_process(settings: Settings) -> tuple[duckdb.DuckDBPyConnection, Validator]:
    """The same view answered in this process: the sandbox without its worker."""
    store = lake_store(settings)
    keys = [i.key for i in store.list_objects("clean/quotes/")]
    con = duckdb.connect(config={"threads": settings.duckdb_threads})
    paths = sql_list([store.duckdb_path(k) for k in keys])
    con.execute(f"CREATE VIEW {quote_ident('quotes')} AS {read_parquet_sql(paths)}")
    return con, Validator(["quotes"])


def latency(settings: Settings, session: SqlSession, runs: int) -> list[dict[str, Any]]:
    con, validator = in_process(settings)
    rows = []
    try:
        for name, sql in ORDINARY.items():

            def direct(sql: str = sql) -> object:
                checked = validator.check(sql)
                return collect(con.execute(checked.sql).to_arrow_reader(2048), 10_000, 1 << 26)

            def through_worker(sql: str = sql) -> object:
                return session.run(sql)

            inside = _stats(_timed(direct, runs))
            worker = _stats(_timed(through_worker, runs))
            rows.append(
                {
                    "query": name,
                    "in_process": inside,
                    "worker": worker,
                    "added_median_ms": round(worker["median_ms"] - inside["median_ms"], 2),
                }
            )
    finally:
        validator.close()
        con.close()
    return rows


def bounds(session: SqlSession) -> list[dict[str, Any]]:
    out = []
    for name, sql in ATTACKS.items():
        session.wait_ready(every=True)  # each attack on a full pool: its own bound, no queue
        started = time.perf_counter()
        try:
            result = session.run(sql)
            outcome = f"ran, cut by {result.cut}" if result.cut else f"ran, {result.rows} rows"
        except QueryRefused as exc:
            outcome = str(exc).split(";")[0]
        wall = time.perf_counter() - started
        last = session.last
        out.append(
            {
                "attack": name,
                "outcome": outcome,
                "kind": last.kind if last else "?",
                "wall_s": round(wall, 2),
                "peak_rss_mib": round((last.peak_rss if last else 0) / 2**20),
            }
        )
        recovered = time.perf_counter()
        try:
            session.run("SELECT 1")
        except QueryRefused:  # no worker free within the queue wait
            out[-1]["next_query_busy"] = True
        out[-1]["next_query_s"] = round(time.perf_counter() - recovered, 2)
    return out


def measure(
    base: Settings, work: Path, *, rows: int, runs: int, timeout_s: float
) -> dict[str, Any]:
    """The sandbox section of a bench run."""
    settings = base.model_copy(
        update={
            "lake": str(work / "lake"),
            "temp_dir": str(work / "tmp"),
            "sql_timeout_seconds": timeout_s,
            "duckdb_memory_limit": "1GB",
            "sql_workers": 2,
        }
    )
    build_lake(settings, rows)
    started = time.perf_counter()
    session = open_sandbox(settings, workers=2)
    try:
        session.schema()
        first_ready = time.perf_counter() - started
        log.info("measuring the SQL sandbox", extra={"rows": rows, "runs": runs})
        queries = latency(settings, session, runs)
        attacks = bounds(session)
    finally:
        session.close()
    return {
        "rows": rows,
        "runs": runs,
        "timeout_s": timeout_s,
        "memory_limit": settings.duckdb_memory_limit,
        "rss_bound_mib": (parse_bytes(settings.duckdb_memory_limit) + RSS_HEADROOM) >> 20,
        "result_cap_mib": settings.sql_max_result_bytes >> 20,
        "first_worker_s": round(first_ready, 2),
        "queries": queries,
        "attacks": attacks,
    }
