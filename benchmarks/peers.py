"""Ours against dlt on the same generic files, back to back in one run (the `peers` section).

The files: `files` quote-like CSVs (symbol, minute timestamp, prices, volume) of `records`
rows in all, 1% of them repeating the row before (same key, same values), and a few values
spelled as missing ("n/a", "NULL"). Three loads of the same files, each in its own child
process so wall time and peak RSS are its own, repeated `repeats` times in turn:

- ours: `bucketpipe ingest bucket` + `bucketpipe clean` with the key (symbol, ts) configured:
  typed, deduplicated on the key, quarantine with reasons, quality report, lineage, a snapshot
  commit; the rate counts both jobs' wall time (end to end);
- dlt to Parquet on the filesystem destination (typed, not deduplicated);
- dlt into DuckDB with a merge on the primary key (typed and deduplicated).

The ratio is our records/s over the peer's (above 1.0: we are faster), from the medians.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.cleaning import CleanSetup, failure
from benchmarks.process import Measured, bucketpipe_command, child_env, run_measured
from bucketpipe.lake.duck import quote_literal
from bucketpipe.lake.snapshots import read_current
from bucketpipe.lake.storage import LocalStore

log = logging.getLogger(__name__)

DATASET = "ticks"
KEY = ("symbol", "ts")
SYMBOLS = 500
PEERS = ("dlt_parquet", "dlt_duckdb_merge")
CLEAN_CONFIG = f"""datasets:
  {DATASET}:
    key: [{", ".join(KEY)}]
    time_column: ts
"""


def write_ticks(folder: Path, records: int, files: int) -> int:
    """`files` CSVs of `records` quote-like rows in all; the distinct keys among them."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-records // files)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads = 2")
        for index in range(files):
            first, last = index * per_file, min(records, (index + 1) * per_file)
            path = folder / f"part-{index:02d}.csv"
            con.execute(
                f"""COPY (
  WITH k AS (
    -- every 100th row repeats the one before it (1% duplicates on the key)
    SELECT n, CASE WHEN n % 100 = 99 THEN n - 1 ELSE n END AS i
    FROM range({first}, {last}) AS r(n)
  )
  SELECT
    'S' || lpad(CAST(i % {SYMBOLS} AS VARCHAR), 4, '0') AS symbol,
    strftime(TIMESTAMP '2026-01-05 09:30:00' + to_minutes(CAST(i // {SYMBOLS} AS BIGINT)),
             '%Y-%m-%d %H:%M:%S') AS ts,
    CASE WHEN i % 100003 = 7 THEN 'n/a'
         ELSE CAST(round(50 + (hash(i, 1) % 20000) / 100.0, 2) AS VARCHAR) END AS price,
    round(50 + (hash(i, 2) % 20000) / 100.0, 2) AS open,
    round(60 + (hash(i, 3) % 20000) / 100.0, 2) AS high,
    round(40 + (hash(i, 4) % 20000) / 100.0, 2) AS low,
    round(50 + (hash(i, 5) % 20000) / 100.0, 2) AS prev_close,
    CASE WHEN i % 200003 = 11 THEN 'NULL'
         ELSE CAST(hash(i, 6) % 1000000 AS VARCHAR) END AS volume
  FROM k ORDER BY n
) TO {quote_literal(str(path))} (FORMAT csv, HEADER true)"""
            )
    finally:
        con.close()
    return records - records // 100  # n % 100 == 99 for n < records


def dlt_available() -> bool:
    return importlib.util.find_spec("dlt") is not None


def _ours(setup: CleanSetup, source: Path, work: Path, attempt: int) -> dict[str, Any]:
    lake = work / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    config = work / "clean.yaml"
    config.write_text(CLEAN_CONFIG)
    # The product's default memory settings (the goal is judged at them), not the clean
    # section's limit.
    env = child_env(
        {
            "BUCKETPIPE_LAKE": str(lake),
            "BUCKETPIPE_TEMP_DIR": str(work / "tmp"),
            "BUCKETPIPE_SOURCE": str(source),
            "BUCKETPIPE_CLEAN_CONFIG": str(config),
            "BUCKETPIPE_LOG_FORMAT": "json",
            "BUCKETPIPE_LOG_LEVEL": "INFO",
        }
    )
    ingest = run_measured(
        bucketpipe_command("ingest", "bucket", "--run-id", f"peers-{attempt}"),
        env=env,
        cwd=work,
        log_path=work / f"ours-ingest-{attempt}.log",
        timeout_s=setup.timeout_s,
    )
    clean = None
    if ingest.ok:
        clean = run_measured(
            bucketpipe_command("clean", "--run-id", f"peers-clean-{attempt}"),
            env=env,
            cwd=work,
            log_path=work / f"ours-clean-{attempt}.log",
            timeout_s=setup.timeout_s,
        )
    out: dict[str, Any] = {
        "wall_s": round(ingest.wall_s + (clean.wall_s if clean else 0.0), 3),
        "peak_rss_mib": round(
            max(ingest.peak_rss_bytes, clean.peak_rss_bytes if clean else 0) / 1024**2, 1
        ),
        "ingest": ingest.as_dict(),
        "clean": clean.as_dict() if clean else None,
        "ok": bool(clean is not None and clean.ok),
    }
    if clean is not None and clean.ok:
        out["rows"] = _committed_rows(lake)
    else:
        out["error"] = failure(clean if clean is not None else ingest)
    shutil.rmtree(lake, ignore_errors=True)
    return out


def _committed_rows(lake: Path) -> int | None:
    store = LocalStore(lake)
    snapshot = read_current(store, DATASET)
    if snapshot is None or not snapshot.files:
        return None
    files = [store.duckdb_path(f.key) for f in snapshot.files]
    con = duckdb.connect(":memory:")
    try:
        row = con.execute(f"SELECT count(*) FROM read_parquet({files!r})").fetchone()
        return int(row[0]) if row else None
    finally:
        con.close()


def _peer(setup: CleanSetup, kind: str, source: Path, work: Path, attempt: int) -> dict[str, Any]:
    out_dir = work / f"dlt-{kind}"
    shutil.rmtree(out_dir, ignore_errors=True)
    run: Measured = run_measured(
        [sys.executable, "-m", "benchmarks.peers_dlt", kind, str(source), str(out_dir), *KEY],
        env=child_env({}),
        cwd=work,
        log_path=work / f"dlt-{kind}-{attempt}.log",
        timeout_s=setup.timeout_s,
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    done = run.events("peer loaded")
    out: dict[str, Any] = {
        "wall_s": round(run.wall_s, 3),
        "peak_rss_mib": round(run.peak_rss_bytes / 1024**2, 1),
        "cpu_s": round(run.cpu_s, 3),
        "ok": run.ok,
        "rows": done[0].get("rows") if done else None,
    }
    if not run.ok:
        out["error"] = failure(run)
    return out


def _summary(records: int, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [a for a in attempts if a.get("ok")]
    walls = [float(a["wall_s"]) for a in ok]
    median = statistics.median(walls) if walls else None
    return {
        "runs": attempts,
        "median_wall_s": round(median, 3) if median else None,
        "records_per_s": round(records / median) if median else None,
        "peak_rss_mib": max((float(a["peak_rss_mib"]) for a in ok), default=None),
        "rows": ok[-1].get("rows") if ok else None,
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(setup: CleanSetup, records: int, files: int, repeats: int) -> dict[str, Any]:
    """Generate the files once, then ours and each peer in turn, `repeats` times."""
    work = setup.work / "peers"
    shutil.rmtree(work, ignore_errors=True)
    source = work / "source" / DATASET
    distinct = write_ticks(source, records, files)
    have_dlt = dlt_available()
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], **{p: [] for p in PEERS}}
    loads = []
    for attempt in range(repeats):
        loads.append(load_average())
        runs["ours"].append(_ours(setup, source.parent, work, attempt))
        if have_dlt:
            runs["dlt_parquet"].append(_peer(setup, "parquet", source, work, attempt))
            runs["dlt_duckdb_merge"].append(_peer(setup, "duckdb", source, work, attempt))
    result: dict[str, Any] = {
        "records": records,
        "files": files,
        "distinct_keys": distinct,
        "repeats": repeats,
        "load_average_before_each": loads,
        "load_average_after": load_average(),
        "ours": _summary(records, runs["ours"]),
    }
    ours_rate = result["ours"]["records_per_s"]
    if not have_dlt:
        result["dlt"] = "not installed: pip install -e '.[dev]' (dlt is pinned there)"
    for peer in PEERS:
        if not have_dlt:
            continue
        summary = _summary(records, runs[peer])
        rate = summary["records_per_s"]
        summary["ratio_ours_over_peer"] = round(ours_rate / rate, 3) if ours_rate and rate else None
        result[peer] = summary
    shutil.rmtree(work, ignore_errors=True)
    return result
