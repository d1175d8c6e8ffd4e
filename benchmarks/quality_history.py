"""A quality-report history: one `quotes` report per 15-minute clean run of the history.

Cleaning a year in one run leaves one report; a lake cleaned every 15 minutes has one per run.
This adds those per-run reports with the product's own writer (copies of the real report the
history's clean run wrote, with each run's id, time and score), then lets the product's
compaction steps treat them as they would: `archive.fold_reports` rolls closed days into day
archives and `retention.expire_reports` turns archives past the retention into daily summaries.
The same reports are committed as rows of `quality_reports`, a file per month as the clean
runs leave it. The volume design gets the same scores as one JSON file per run.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.history import HistorySpec
from bucketpipe.clean import report_rows
from bucketpipe.context import Context
from bucketpipe.ingest.demo.generate import ticks
from bucketpipe.lake.duck import connect
from bucketpipe.lake.storage import scratch_dir
from bucketpipe.maintain import archive, retention
from bucketpipe.quality import report as quality

DATASET = "quotes"


def score_at(moment: datetime) -> float:
    """A deterministic overall score in 93..100 that drifts over days and dips now and then."""
    minutes = int(moment.timestamp()) // 60
    drift = 1.5 * math.sin(minutes / (60 * 24 * 9))
    dip = 4.0 if minutes % 977 == 0 else 0.0
    return round(min(100.0, 97.5 + drift - dip + (minutes % 7) * 0.1), 2)


def run_times(spec: HistorySpec) -> list[datetime]:
    """When each clean run that touched quotes finished: 2 minutes after each snapshot."""
    return [
        moment + timedelta(minutes=2)
        for day in spec.trading_days
        for moment in ticks(day, spec.interval_minutes)
    ]


def write_history(ctx: Context, spec: HistorySpec) -> list[tuple[datetime, float]]:
    """Write the per-run reports and compact them as the daily job would; (time, score) of
    every run, oldest first. Empty when the history's clean run wrote no report."""
    template = quality.read_latest(ctx.store).get(DATASET)
    if template is None:
        return []
    store = ctx.store
    # The run that cleaned the history wrote a report too (compaction may have archived it).
    runs: list[tuple[datetime, float]] = [(template.created_at, template.overall_score)]
    run_ids: set[str] = set()
    by_month: dict[str, dict[str, quality.QualityReport]] = {}
    for at in run_times(spec):
        run_id = f"clean-{int(at.timestamp()) // 60}"
        score = score_at(at)
        update: dict[str, Any] = {"run_id": run_id, "created_at": at, "overall_score": score}
        report = template.model_copy(update=update)
        quality.write_report(store, report)
        by_month.setdefault(report_rows.month_of(at), {})[run_id] = report
        runs.append((at, score))
        run_ids.add(run_id)
    # The runs' rows of `quality_reports`: each month's file as its last run leaves it.
    con = connect(ctx.settings)
    try:
        for month, reports in sorted(by_month.items()):
            report_rows.commit_rows(
                con,
                store,
                reports,
                run_id=f"history-{month}",
                scratch=scratch_dir(ctx.settings.temp_dir),
                now=datetime.now(UTC),
            )
    finally:
        con.close()
    now = datetime.combine(spec.end, datetime.max.time(), UTC)
    archive.fold_reports(store, today=spec.end, committed=run_ids, orphan_before=now)
    keep_from: date = archive.older_than(ctx.settings.retention_reports_days, now)
    retention.expire_reports(store, before=keep_from)
    return sorted(runs)
