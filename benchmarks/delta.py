"""What the Delta Lake mirror costs: milliseconds and S3 requests per commit, log objects.

A demo lake is written with the mirror off; then, on a local lake and on S3 (moto behind the
counting proxy): the backfill of every table, and `commits` appends to `quotes` (one new file
each, committed as clean commits it), each followed by the mirror's `sync`, timed and counted.
Log objects are counted before the appends, after them (one commit file each, a checkpoint
every `delta_checkpoint_interval`), and after compaction's `tidy`.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.history import fixed_clock
from benchmarks.s3 import BenchS3
from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake import delta
from bucketpipe.lake.delta_log import log_prefix
from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry, commit, read_current
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.wiring import AFTER_CLEAN

log = logging.getLogger(__name__)


def measure(
    base: Settings, work: Path, *, commits: int, s3: BenchS3 | None, today: datetime
) -> dict[str, Any]:
    """Both lakes' figures (`lakes`), and the policy they were measured with."""
    policy = delta.Policy.from_settings(base)
    out: dict[str, Any] = {
        "commits": commits,
        "checkpoint_interval": policy.checkpoint_interval,
        "lakes": [],
    }
    lakes = [("local", base.model_copy(update={"lake": str(work / "delta-lake")}))]
    if s3 is not None:
        bucket = f"delta-{uuid.uuid4().hex[:8]}"
        s3.client().create_bucket(Bucket=bucket)
        lakes.append(("s3", s3.settings(base, bucket)))
    for name, settings in lakes:
        log.info("measuring the Delta mirror", extra={"lake": name, "commits": commits})
        counted = s3 if name == "s3" else None
        out["lakes"].append({"lake": name, **_one_lake(settings, commits, policy, counted, today)})
    shutil.rmtree(work / "delta-lake", ignore_errors=True)
    return out


def _one_lake(
    settings: Settings,
    commits: int,
    policy: delta.Policy,
    s3: BenchS3 | None,
    today: datetime,
) -> dict[str, Any]:
    ctx = Context.from_settings(settings.model_copy(update={"delta_mirror": False}))
    ctx.clock = fixed_clock(today)
    try:
        ingest_demo(
            ctx, run_id="delta-i1", symbols=["AAPL", "MSFT"], days=5, interval_minutes=30, seed=7
        )
        run_clean(ctx, after_clean=AFTER_CLEAN, run_id="delta-c1")
        store = ctx.store
        started = time.perf_counter()
        backfill = delta.sync_lake(store, policy)
        backfill_ms = (time.perf_counter() - started) * 1000
        before = _log_objects(store)
        timings: list[float] = []
        requests: Counter[str] = Counter()
        for index in range(commits):
            _append(store, index, today + timedelta(minutes=15 * (index + 1)))
            reading = s3.proxy.reading() if s3 is not None else None
            t0 = time.perf_counter()
            synced = delta.sync(store, "quotes", policy)
            timings.append((time.perf_counter() - t0) * 1000)
            if s3 is not None and reading is not None:
                requests.update(s3.proxy.since(reading).by_kind)
            if synced.action != "committed":
                raise RuntimeError(f"the mirror did not commit: {synced}")
        after = _log_objects(store)
        expired = delta.tidy(store, "quotes", before=datetime.now(UTC) + timedelta(days=1))
        return {
            "tables": len(backfill),
            "backfill_ms_per_table": round(backfill_ms / max(1, len(backfill)), 1),
            "commit_ms_median": round(statistics.median(timings), 1),
            "commit_ms_p90": round(_p90(timings), 1),
            "requests_per_commit": (
                round(sum(requests.values()) / commits, 1) if s3 is not None else None
            ),
            "requests_per_commit_by_kind": {k: round(v / commits, 1) for k, v in requests.items()},
            "log_objects_before": before,
            "log_objects_after": after,
            "log_objects_per_commit": round((after - before) / commits, 2),
            "log_objects_after_tidy": after - expired,
        }
    finally:
        ctx.close()


def _append(store: ObjectStore, index: int, at: datetime) -> None:
    """Commit one more quotes file (a copy of one already there), as a clean run would."""
    current = read_current(store, "quotes")
    assert current is not None and current.files
    model = current.files[-1]
    key = clean_key("quotes", model.partition or at.date().isoformat(), f"bench-{index}")
    store.put(key, store.get(model.key), "application/vnd.apache.parquet")
    entry = FileEntry(
        key=key,
        rows=model.rows,
        bytes=model.bytes,
        partition=model.partition,
        min_time=model.min_time,
        max_time=model.max_time,
        run_id=f"bench-{index}",
    )
    commit(store, "quotes", run_id=f"bench-{index}", add=[entry], now=at)


def _log_objects(store: ObjectStore) -> int:
    return sum(1 for _ in store.list_objects(log_prefix("quotes")))


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
