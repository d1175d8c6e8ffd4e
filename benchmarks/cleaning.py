"""Clean throughput and memory: the real `bucketpipe clean` in a child process, pandas beside it.

Quote rebuilds: a lake holding about N raw quote records (a year of 15-minute snapshots of as
many symbols as that takes) is rebuilt with `bucketpipe clean --rebuild quotes` under the
configured DuckDB memory limit. A generic CSV of about `csv_mib` MiB is landed with
`bucketpipe ingest bucket` and cleaned with `bucketpipe clean`. The pandas baseline cleans the
same inputs in its own child process; peak RSS of each child comes from the kernel.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.history import HistorySpec, land_history, symbols_for
from benchmarks.process import GIB, Measured, bucketpipe_command, child_env, run_measured
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.lake.duck import quote_literal

log = logging.getLogger(__name__)

BASELINE_MODULE = "benchmarks.baseline_clean"


@dataclass(frozen=True)
class CleanSetup:
    """Where and with what limits the clean measurements run."""

    work: Path
    memory_limit: str
    threads: int
    baseline_rss_cap_bytes: int
    python: str
    timeout_s: float = 3600.0  # a run still going after this is stopped and reported


def lake_env(setup: CleanSetup, lake: Path, **extra: str) -> dict[str, str]:
    return child_env(
        {
            "BUCKETPIPE_LAKE": str(lake),
            "BUCKETPIPE_TEMP_DIR": str(setup.work / "tmp"),
            "BUCKETPIPE_DUCKDB_MEMORY_LIMIT": setup.memory_limit,
            "BUCKETPIPE_DUCKDB_THREADS": str(setup.threads),
            "BUCKETPIPE_LOG_FORMAT": "json",
            "BUCKETPIPE_LOG_LEVEL": "INFO",
            **extra,
        }
    )


def _durations(run: Measured) -> dict[str, float]:
    """Seconds per dataset step, from the child's `dataset cleaned/derived` log lines."""
    steps: dict[str, float] = {}
    for message in ("dataset cleaned", "dataset derived"):
        for line in run.events(message):
            if "dataset" in line and "duration_s" in line:
                steps[str(line["dataset"])] = float(line["duration_s"])
    return steps


def _baseline(
    setup: CleanSetup, kind: str, source: Path, out: Path, log_path: Path
) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    run = run_measured(
        [setup.python, "-m", BASELINE_MODULE, kind, str(source), str(out)],
        env=child_env({}),
        cwd=setup.work,
        log_path=log_path,
        rss_cap_bytes=setup.baseline_rss_cap_bytes,
        timeout_s=setup.timeout_s,
    )
    shutil.rmtree(out, ignore_errors=True)
    done = run.events("baseline cleaned")
    result: dict[str, Any] = {
        **run.as_dict(),
        "rss_cap_gib": round(setup.baseline_rss_cap_bytes / GIB, 1),
        "rows_written": done[0].get("rows_written") if done else None,
    }
    if not run.ok:
        result["error"] = failure(run)
    return result


def _job_figures(run: Measured, records: int) -> dict[str, Any]:
    """Wall, CPU, RSS and rates of one clean job run over `records` quote records."""
    steps = _durations(run)
    quotes_s = steps.get("quotes")
    out: dict[str, Any] = {
        **run.as_dict(),
        "records_per_s": round(records / run.wall_s) if run.ok else None,
        "records_per_cpu_s": round(records / run.cpu_s) if run.ok and run.cpu_s else None,
        "quotes_step_s": quotes_s,
        "quotes_step_records_per_s": round(records / quotes_s) if quotes_s else None,
        "steps_s": steps,
    }
    if not run.ok:
        out["error"] = failure(run)
    return out


def failure(run: Measured) -> str:
    """Why a measured run failed, in one line."""
    if run.timed_out:
        return f"stopped after {run.wall_s:.0f} s: still running at the bench's time limit"
    if run.stopped_at_cap:
        return f"stopped: resident memory passed the cap ({run.peak_rss_gib:.1f} GiB)"
    return " ".join(run.stderr_tail.strip().splitlines()[-2:])[-500:]


def quote_rebuild(
    setup: CleanSetup, base: Settings, records: int, end: date, *, workers: int | None = None
) -> dict[str, Any]:
    """About `records` raw quote records: the first clean of all of them (`bucketpipe clean`),
    then a rebuild (`bucketpipe clean --rebuild quotes`); the pandas baseline beside."""
    lake = setup.work / f"rebuild-{records}"
    shutil.rmtree(lake, ignore_errors=True)
    spec = HistorySpec(symbols=symbols_for(records, 365, end), days=365, end=end)
    settings = base.model_copy(update={"lake": str(lake), "redis_url": None})
    ctx = Context.from_settings(settings)
    try:
        landed = land_history(ctx, spec, workers=workers)
    finally:
        ctx.close()
    first = run_measured(
        bucketpipe_command("clean", "--run-id", "bench-clean"),
        env=lake_env(setup, lake),
        cwd=setup.work,
        log_path=setup.work / f"clean-{records}.log",
        timeout_s=setup.timeout_s,
    )
    rebuild = run_measured(
        bucketpipe_command("clean", "--rebuild", "quotes", "--run-id", "bench-rebuild"),
        env=lake_env(setup, lake),
        cwd=setup.work,
        log_path=setup.work / f"rebuild-{records}.log",
        timeout_s=setup.timeout_s,
    )
    result: dict[str, Any] = {
        "target_records": records,
        "raw_records": landed.records,
        "quote_records": landed.quote_records,
        "raw_objects": landed.runs,
        "raw_mib": round(landed.raw_bytes / 1024**2, 1),
        "symbols": spec.symbols,
        "memory_limit": setup.memory_limit,
        "threads": setup.threads,
        **_job_figures(rebuild, landed.quote_records),
        "first_clean": _job_figures(first, landed.quote_records),
    }
    result["baseline"] = _baseline(
        setup,
        "quotes",
        lake / "raw",
        setup.work / "pandas-out",
        setup.work / f"pandas-{records}.log",
    )
    shutil.rmtree(lake, ignore_errors=True)
    return result


# --- a generic CSV of about a gigabyte ----------------------------------------------------------
ROW_BYTES = 68  # the average width of a generated row, for sizing


def write_orders_csv(path: Path, mib: int) -> int:
    """A sales-orders CSV of about `mib` MiB with the usual dirt: repeated rows, blanks,
    stray spaces and casing, unparseable dates and numbers, an almost empty column."""
    rows = max(1000, mib * 1024**2 // ROW_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads = 2")
        con.execute(
            f"""COPY (
  WITH t AS (
    -- every 97th row repeats the one before it exactly
    SELECT i, 'Customer ' || CAST(hash(i, 7) % 50000 AS VARCHAR) AS name
    FROM (SELECT CASE WHEN n % 97 = 0 THEN n - 1 ELSE n END AS i FROM range(1, {rows} + 1) AS r(n))
  )
  SELECT
    i AS "Order ID",
    CASE WHEN i % 997 = 0 THEN 'n/a'
         ELSE strftime(DATE '2024-01-01' + CAST(hash(i, 1) % 700 AS INTEGER), '%Y-%m-%d') END
      AS "Order Date",
    CASE WHEN i % 53 = 0 THEN '  ' || name || ' ' WHEN i % 59 = 0 THEN upper(name)
         ELSE name END AS "Customer Name",
    ['Finland', 'Sweden', 'finland', 'Norway', 'Estonia', 'Germany']
      [1 + CAST(hash(i, 2) % 6 AS INTEGER)] AS "Country",
    ['Widget', 'Gadget', 'Doohickey', 'Sprocket', 'Gizmo']
      [1 + CAST(hash(i, 3) % 5 AS INTEGER)] AS "Product",
    CASE WHEN i % 41 = 0 THEN NULL ELSE 1 + hash(i, 4) % 20 END AS "Quantity",
    CASE WHEN i % 5003 = 0 THEN 99999.0 WHEN i % 211 = 0 THEN NULL
         ELSE round(1 + (hash(i, 5) % 50000) / 100.0, 2) END AS "Unit Price",
    CASE WHEN i % 17 = 0 THEN round((hash(i, 6) % 30) / 100.0, 2) END AS "Discount",
    CASE WHEN i % 7 = 0 THEN 'pending' WHEN i % 11 = 0 THEN 'Shipped ' ELSE 'shipped' END
      AS "Status",
    CASE WHEN i % 101 = 0 THEN 'gift wrap' END AS "Notes"
  FROM t
) TO {quote_literal(str(path))} (FORMAT csv, HEADER true)"""
        )
    finally:
        con.close()
    return rows


def csv_clean(setup: CleanSetup, mib: int) -> dict[str, Any]:
    """Land and clean one generic CSV with the real jobs; pandas beside."""
    source = setup.work / "csv-source"
    lake = setup.work / "csv-lake"
    for folder in (source, lake):
        shutil.rmtree(folder, ignore_errors=True)
    csv = source / "orders" / "orders.csv"
    rows = write_orders_csv(csv, mib)
    size = csv.stat().st_size
    env = lake_env(setup, lake, BUCKETPIPE_SOURCE=str(source))
    ingest = run_measured(
        bucketpipe_command("ingest", "bucket", "--run-id", "bench-csv"),
        env=env,
        cwd=setup.work,
        log_path=setup.work / "csv-ingest.log",
        timeout_s=setup.timeout_s,
    )
    clean = None
    if ingest.ok:
        clean = run_measured(
            bucketpipe_command("clean", "--run-id", "bench-csv-clean"),
            env=env,
            cwd=setup.work,
            log_path=setup.work / "csv-clean.log",
            timeout_s=setup.timeout_s,
        )
    result: dict[str, Any] = {
        "csv_mib": round(size / 1024**2, 1),
        "csv_rows": rows,
        "memory_limit": setup.memory_limit,
        "ingest": ingest.as_dict(),
        "clean": clean.as_dict() if clean else None,
        "rows_per_s": round(rows / clean.wall_s) if clean and clean.ok else None,
        "peak_rss_mib": round(
            max(ingest.peak_rss_bytes, clean.peak_rss_bytes if clean else 0) / 1024**2, 1
        ),
    }
    failed = clean if clean is not None and not clean.ok else ingest if not ingest.ok else None
    if failed is not None:
        result["error"] = failure(failed)
    result["baseline"] = _baseline(
        setup, "table", csv, setup.work / "pandas-csv-out", setup.work / "pandas-csv.log"
    )
    for folder in (source, lake):
        shutil.rmtree(folder, ignore_errors=True)
    return result
