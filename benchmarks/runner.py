"""A bench run: each section measured in turn on generated data, results as one JSON document.

A section that cannot run (a missing dependency or product piece) is recorded with the reason
and the others still run; answers that differ between the designs stop the run, since every
comparison after that would be meaningless.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks import (
    cleaning,
    delta,
    freshness,
    ingest,
    objects,
    pages,
    peers,
    sandbox,
    scale,
    sizes,
)
from benchmarks.config import BenchConfig
from benchmarks.goals import evaluate
from benchmarks.history import HistorySpec, last_trading_day
from benchmarks.machine import probe
from benchmarks.questions import AnswerMismatch
from benchmarks.s3 import BenchS3, mirror
from bucketpipe.config.errors import BucketpipeError, ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.lake.storage import LocalStore

log = logging.getLogger(__name__)


def bench_settings(base: Settings, config: BenchConfig) -> Settings:
    """The user's settings with everything the bench owns replaced: lakes, Redis, scratch."""
    return base.model_copy(
        update={
            "lake": str(config.out_dir / "unused-lake"),
            "temp_dir": str(config.out_dir / "tmp"),
            "redis_url": None,
            "aws_endpoint_url": None,
            "aws_access_key_id": None,
            "aws_secret_access_key": None,
            "reader_access_key_id": None,
            "reader_secret_access_key": None,
            "finnhub_api_key": None,
            "symbols": ["AAPL"],
        }
    )


# --- dashboard and growth ------------------------------------------------------------------------
def run_dashboard(config: BenchConfig, base: Settings, end: date) -> dict[str, Any]:
    s3 = BenchS3.start() if config.s3 else None
    out: dict[str, Any] = {"lakes": [], "volumes": [], "queries": [], "s3_sync_requests": []}
    try:
        for days in config.days:
            spec = HistorySpec(symbols=config.symbols, days=days, end=end)
            prepared = sizes.prepare(
                base, config.out_dir, spec, symbol=config.stock_symbol, workers=config.workers
            )
            try:
                out["lakes"].append(sizes.lake_summary(prepared))
                out["volumes"].append({"days": days, **prepared.volume.as_dict()})
                out.setdefault("notes", []).extend(prepared.notes)
                rows, sync = sizes.measure(
                    prepared,
                    runs=config.runs,
                    baseline_runs=config.baseline_runs_for(days),
                    s3=s3,
                )
                out["queries"] += rows
                if sync is not None:
                    out["s3_sync_requests"].append(sync)
            finally:
                if not config.keep:
                    prepared.cleanup()
    finally:
        if s3 is not None:
            s3.stop()
    return out


def run_pages(config: BenchConfig, base: Settings, end: date) -> dict[str, Any]:
    """Every dashboard page in Chromium on the S3 lake of the longest history (see `pages`)."""
    days = max(config.days)
    spec = HistorySpec(symbols=config.symbols, days=days, end=end)
    s3 = BenchS3.start()
    prepared = sizes.prepare(
        base, config.out_dir, spec, symbol=config.stock_symbol, workers=config.workers
    )
    try:
        bucket = f"pages-{days}d"
        copied = mirror(LocalStore(prepared.lake_dir), s3, bucket, skip=("raw",))
        settings = s3.settings(prepared.settings, bucket)
        names = config.pages or (tuple(pages.PAGES) if config.mode == "full" else pages.QUICK_PAGES)
        rows = pages.measure(settings, s3.proxy, config.stock_symbol, config.out_dir, names)
        return {"days": days, "symbols": config.symbols, "objects": copied, "pages": rows}
    finally:
        s3.stop()
        if not config.keep:
            prepared.cleanup()


def growth(rows: list[dict[str, Any]], days: tuple[int, ...]) -> list[dict[str, Any]]:
    """latency(longest history) / latency(30 d, else the next shorter) per question and lake."""
    longest = max(days)
    shorter = sorted(d for d in days if d < longest)
    if not shorter:
        return []
    reference = 30 if 30 in shorter else shorter[-1]
    out = []
    for question in dict.fromkeys(r["question"] for r in rows):
        for lake in ("local", "s3"):
            by_days = {
                r["days"]: r for r in rows if r["question"] == question and r["lake"] == lake
            }
            if longest not in by_days or reference not in by_days:
                continue
            entry: dict[str, Any] = {
                "question": question,
                "lake": lake,
                "ratio_of": f"{longest}d/{reference}d",
                **{f"median_s_{d}d": by_days[d]["median_s"] for d in sorted(by_days)},
                "ratio": round(by_days[longest]["median_s"] / by_days[reference]["median_s"], 3),
            }
            if lake == "local":
                base = {d: r["baseline_median_s"] for d, r in by_days.items()}
                entry["baseline_ratio"] = round(base[longest] / base[reference], 3)
            out.append(entry)
    return out


# --- the other sections ---------------------------------------------------------------------------
def clean_setup(config: BenchConfig) -> cleaning.CleanSetup:
    """Where and how the clean and peers sections run their jobs (their work folder made)."""
    setup = cleaning.CleanSetup(
        work=config.out_dir / "clean",
        memory_limit=config.memory_limit,
        threads=config.threads,
        baseline_rss_cap_bytes=int(config.baseline_rss_cap_gib * 1024**3),
        python=sys.executable,
    )
    setup.work.mkdir(parents=True, exist_ok=True)
    return setup


def run_clean(config: BenchConfig, base: Settings, end: date) -> dict[str, Any]:
    setup = clean_setup(config)
    rebuilds = []
    for records in config.clean_records:
        log.info("measuring a quote rebuild", extra={"records": records})
        rebuilds.append(cleaning.quote_rebuild(setup, base, records, end, workers=config.workers))
    log.info("measuring a generic CSV clean", extra={"csv_mib": config.csv_mib})
    return {"rebuilds": rebuilds, "csv": cleaning.csv_clean(setup, config.csv_mib)}


def run_ingest(config: BenchConfig) -> dict[str, Any]:
    scenarios = []
    for shards in (1, 4):
        log.info("measuring ingest", extra={"shards": shards, "plan": config.ingest.label()})
        scenarios.append(
            ingest.measure(
                config.ingest, shards, config.out_dir / "ingest", startup_s=config.ingest_startup_s
            )
        )
    return {
        "plan": config.ingest.label(),
        "note": "limits scaled up from the free plan (60/min, 30/s) so a run takes minutes",
        "scenarios": scenarios,
    }


def run_objects(config: BenchConfig, base: Settings, today: date) -> dict[str, Any]:
    """The schedule with the default retention; in full mode also the steady state (run
    manifests folded after one day instead of 30, as they are once the lake is 30 days old)."""
    work = config.out_dir / "objects"
    shutil.rmtree(work, ignore_errors=True)
    log.info("simulating scheduled runs", extra={"days": config.objects.days})
    out = objects.simulate(base, work, config.objects, today=today)
    if config.mode == "full":
        steady = replace(config.objects, manifest_retention_days=1)
        shutil.rmtree(work, ignore_errors=True)
        log.info("simulating the steady state", extra={"days": steady.days})
        out["steady_state"] = objects.simulate(base, work, steady, today=today)
    shutil.rmtree(work, ignore_errors=True)
    return out


def run_sandbox(config: BenchConfig, base: Settings) -> dict[str, Any]:
    work = config.out_dir / "sandbox"
    shutil.rmtree(work, ignore_errors=True)
    try:
        timeout = 10.0 if config.mode == "full" else 3.0
        return sandbox.measure(
            base, work, rows=config.sandbox_rows, runs=config.sandbox_runs, timeout_s=timeout
        )
    finally:
        if not config.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_delta(config: BenchConfig, base: Settings, today: date) -> dict[str, Any]:
    """Mirror cost per commit on a local lake and on moto (see `benchmarks.delta`)."""
    s3 = BenchS3.start() if config.s3 else None
    work = config.out_dir / "delta"
    try:
        moment = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=15)
        return delta.measure(base, work, commits=config.delta_commits, s3=s3, today=moment)
    finally:
        if s3 is not None:
            s3.stop()
        shutil.rmtree(work, ignore_errors=True)


def run_freshness(config: BenchConfig, base: Settings) -> dict[str, Any]:
    """Ingest commit to readable rows under `clean --watch` (see `benchmarks.freshness`)."""
    log.info("measuring freshness", extra={"runs": config.freshness_runs})
    return freshness.measure(
        base,
        config.out_dir / "freshness",
        runs=config.freshness_runs,
        gap_s=config.freshness_gap_s,
    )


def run_scale(config: BenchConfig) -> dict[str, Any]:
    """Sharded ingest, clean and dashboard replicas at 5,000 symbols (see `benchmarks.scale`)."""
    work = config.out_dir / "scale"
    shutil.rmtree(work, ignore_errors=True)
    log.info("measuring scale-out", extra={"symbols": config.scale.symbols})
    try:
        return scale.measure(config.scale, work)
    finally:
        if not config.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_peers(config: BenchConfig) -> dict[str, Any]:
    """Ours against dlt on the same generic CSV files (see `benchmarks.peers`)."""
    setup = clean_setup(config)
    log.info("measuring ours against dlt", extra={"records": config.peer_records})
    return peers.measure(setup, config.peer_records, config.peer_files, config.peer_repeats)


def failures(results: dict[str, Any]) -> list[str]:
    """Product runs that failed during the bench (a failed run is not a figure)."""
    out = []
    for r in results.get("clean", {}).get("rebuilds", []):
        for label, run in (("first clean", r.get("first_clean") or {}), ("rebuild", r)):
            if run.get("returncode"):
                out.append(f"{label} of {r.get('quote_records')} records: {run.get('error')}")
    csv = results.get("clean", {}).get("csv") or {}
    for step in ("ingest", "clean"):
        run = csv.get(step) or {}
        if run.get("returncode"):
            out.append(f"CSV {step}: {csv.get('error')}")
    if csv.get("ingest") and csv.get("clean") is None:
        out.append(f"CSV clean not run: {csv.get('error')}")
    scaled = (results.get("scale") or {}).get("clean") or {}
    if scaled.get("returncode"):
        out.append(f"scale clean: {scaled.get('error')}")
    for name in ("ours", *peers.PEERS):
        entry = (results.get("peers") or {}).get(name)
        for attempt in entry.get("runs", []) if isinstance(entry, dict) else []:
            if not attempt.get("ok"):
                out.append(f"peers, {name}: {attempt.get('error')}")
    fresh = results.get("freshness") or {}
    if fresh.get("missed"):
        out.append(f"freshness: {fresh['missed']} ingest runs never became readable")
    for s in results.get("ingest", {}).get("scenarios", []):
        for shard in s.get("shard_runs", []):
            if shard.get("status") not in ("succeeded", "partial") or shard.get("failed_calls"):
                out.append(f"ingest shard {shard.get('shard')}/{s['shards']}: {shard}")
    return out


# --- the whole run -----------------------------------------------------------------------------
def run(
    config: BenchConfig,
    base: Settings,
    *,
    command: str,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every configured section; the results document (goals included).

    `checkpoint` is called with the results so far after each section (a long run keeps what
    it measured if a later section breaks).
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    settings = bench_settings(base, config)
    today = started.date()
    end = last_trading_day(today)
    results: dict[str, Any] = {
        "bench": {
            "mode": config.mode,
            "command": command,
            "started_at": started.isoformat(),
            "config": config.as_dict(),
        },
        "machine": probe().as_dict(),
        "missing": [],
    }
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "dashboard": lambda: run_dashboard(config, settings, end),
        "pages": lambda: run_pages(config, settings, end),
        "clean": lambda: run_clean(config, settings, end),
        "ingest": lambda: run_ingest(config),
        "objects": lambda: run_objects(config, settings, today),
        "sandbox": lambda: run_sandbox(config, settings),
        "delta": lambda: run_delta(config, settings, today),
        "freshness": lambda: run_freshness(config, settings),
        "scale": lambda: run_scale(config),
        "peers": lambda: run_peers(config),
    }
    for name, section in sections.items():
        if name not in config.sections:
            continue
        t = time.perf_counter()
        try:
            results[name] = section()
        except AnswerMismatch:
            raise
        except (ConfigError, BucketpipeError, ImportError, OSError, RuntimeError) as exc:
            reason = f"{exc.__class__.__name__}: {exc}"
            log.error("bench section failed", extra={"section": name, "error": reason})
            results[name] = {"status": "missing", "reason": reason}
            results["missing"].append({"section": name, "reason": reason})
            if isinstance(exc, ConfigError):
                raise
        results[name + "_seconds"] = round(time.perf_counter() - t, 1)
        if name == "dashboard" and "queries" in results[name]:
            results["growth"] = growth(results[name]["queries"], config.days)
        if checkpoint is not None:
            checkpoint(results)
    results["failures"] = failures(results)
    results["goals"] = [v.as_dict() for v in evaluate(results)]
    results["bench"]["finished_at"] = datetime.now(UTC).isoformat()
    results["bench"]["seconds"] = round(time.perf_counter() - t0, 1)
    results["machine_after"] = probe().as_dict()
    return results
