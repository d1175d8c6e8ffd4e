"""Retention: how long raw, quarantine, quality reports and run manifests are kept.

Run by `bucketpipe compact` after the day archives are written:
- raw: a day folder (`raw/<source>/dt=<day>/`: its archive and landed copies) older than
  `retention_raw_days` is deleted once it is fully archived (no run object waits for clean);
- quarantine: day folders older than `retention_quarantine_days` are deleted;
- quality reports: day archives (`reports/quality/_archive/<day>.jsonl.gz`) older than
  `retention_reports_days` become one line per dataset and day in
  `reports/quality/_daily.jsonl.gz` (runs, rows, mean/min/max scores);
- run manifests: whole manifests older than `retention_manifests_days` are folded into
  `_runs/<job>/_archive/<day>.jsonl.gz` summaries; an ingest run clean has not consumed yet
  is never folded (clean still needs it), so the processed-inputs bookkeeping stays exact.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Any

from bucketpipe.context import Context
from bucketpipe.lake.layout import (
    QUALITY_DAILY_KEY,
    QUALITY_REPORT_ARCHIVES,
    last_part,
    quarantine_prefix,
    raw_archive_key,
    raw_prefix,
)
from bucketpipe.lake.runs import INGEST_JOB, RunManifest
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.maintain import archive
from bucketpipe.quality.report import read_daily

log = logging.getLogger(__name__)


def _cutoff(now: datetime, days: int) -> date:
    return (now - timedelta(days=days)).date()


def expire_raw(store: ObjectStore, *, before: date) -> int:
    """Delete archived raw day folders older than `before`; objects deleted."""
    deleted = 0
    for source_dir in store.list_dirs(raw_prefix()):
        source = last_part(source_dir)
        for day_dir in store.list_dirs(source_dir):
            day = archive.day_of(day_dir)
            if day is None or day >= before:
                continue
            keys = [i.key for i in store.list_objects(day_dir)]
            loose = [k for k in keys if k.count("/") == 3 and k != raw_archive_key(source, day)]
            if loose:
                log.warning(
                    "raw day not deleted: runs in it are not cleaned yet",
                    extra={"day": day.isoformat(), "source": source, "runs": len(loose)},
                )
                continue
            deleted += store.delete(keys)
    return deleted


def expire_quarantine(store: ObjectStore, *, before: date) -> int:
    deleted = 0
    for dataset_dir in store.list_dirs(quarantine_prefix()):
        for day_dir in store.list_dirs(dataset_dir):
            day = archive.day_of(day_dir)
            if day is not None and day < before:
                deleted += store.delete([i.key for i in store.list_objects(day_dir)])
    return deleted


def daily_summary(day: date, reports: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One line for a day of reports: how many runs, the scores' mean, min and max."""
    items = list(reports)
    scores = [float(r["overall_score"]) for r in items]
    dims: dict[str, float] = {}
    for name in ("completeness", "uniqueness", "consistency", "validity"):
        values = [float(r["dimensions"][name]["score"]) for r in items if name in r["dimensions"]]
        if values:
            dims[name] = round(fmean(values), 2)
    last = max(items, key=lambda r: str(r["created_at"]))
    return {
        "day": day.isoformat(),
        "runs": len(items),
        "rows": sum(int(r.get("rows", 0)) for r in items),
        "rows_quarantined": sum(int(r.get("rows_quarantined", 0)) for r in items),
        "overall_mean": round(fmean(scores), 2),
        "overall_min": min(scores),
        "overall_max": max(scores),
        "dimensions_mean": dims,
        "passed_runs": sum(1 for r in items if r.get("passed")),
        "last_run": last["run_id"],
    }


def expire_reports(store: ObjectStore, *, before: date) -> int:
    """Replace day archives older than `before` by daily summary lines; archives removed."""
    old = []
    for info in store.list_objects(QUALITY_REPORT_ARCHIVES):
        day = date.fromisoformat(last_part(info.key).removesuffix(".jsonl.gz"))
        if day < before:
            old.append((day, info.key))
    if not old:
        return 0
    summaries = {(row["dataset"], row["day"]): row for row in read_daily(store)}
    for day, key in old:
        by_dataset: dict[str, list[dict[str, Any]]] = {}
        for line in gzip.decompress(store.get(key)).splitlines():
            if line.strip():
                report = json.loads(line)
                by_dataset.setdefault(report["dataset"], []).append(report)
        for dataset, reports in by_dataset.items():
            summaries[(dataset, day.isoformat())] = {
                "dataset": dataset,
                **daily_summary(day, reports),
            }
    text = "\n".join(json.dumps(summaries[k], sort_keys=True) for k in sorted(summaries))
    store.put(QUALITY_DAILY_KEY, gzip.compress(text.encode() + b"\n"), "application/gzip")
    return store.delete(k for _, k in old)


def fold_manifests(ctx: Context, *, before: datetime, consumed: set[str]) -> dict[str, int]:
    """Fold whole manifests finished before `before` into day archives; folded per job."""
    out: dict[str, int] = {}
    runlog = ctx.runlog
    for job in runlog.jobs():
        by_day: dict[date, list[tuple[str, RunManifest]]] = {}
        for info in runlog.manifest_infos(job):
            if info.last_modified >= before:
                continue  # written recently, so it finished recently too
            if (manifest := runlog.load(info.key)) is None:
                continue
            if manifest.finished_at >= before:
                continue
            if job == INGEST_JOB and manifest.input_id not in consumed:
                continue
            by_day.setdefault(manifest.finished_at.date(), []).append((info.key, manifest))
        for day, items in sorted(by_day.items()):
            runlog.archive_day(job, day, [m for _, m in items])
            ctx.store.delete(k for k, _ in items)
            out[job] = out.get(job, 0) + len(items)
    return out


def apply(ctx: Context, *, now: datetime, consumed: set[str]) -> dict[str, Any]:
    """Every retention rule, with what each deleted or folded."""
    s = ctx.settings
    return {
        "raw_objects_deleted": expire_raw(ctx.store, before=_cutoff(now, s.retention_raw_days)),
        "quarantine_objects_deleted": expire_quarantine(
            ctx.store, before=_cutoff(now, s.retention_quarantine_days)
        ),
        "report_archives_summarised": expire_reports(
            ctx.store, before=_cutoff(now, s.retention_reports_days)
        ),
        "manifests_folded": fold_manifests(
            ctx, before=now - timedelta(days=s.retention_manifests_days), consumed=consumed
        ),
    }
