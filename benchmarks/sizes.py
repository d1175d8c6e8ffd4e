"""One history size of the dashboard section: build it, then ask both designs every question.

`prepare` generates the history into a local lake (the real ingest commit and clean job),
writes its per-run quality reports and fills the volume design's directory with the same
rows; `measure` answers every question on the local lake, on the volume, and on the lake
mirrored to S3 (moto behind the counting proxy), checking that all answers agree.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import dashboard, quality_history
from benchmarks.baseline import CsvDashboard, Volume, write_volume
from benchmarks.history import BuiltLake, HistorySpec, build_lake
from benchmarks.questions import Question, questions
from benchmarks.s3 import BenchS3, mirror
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.lake.duck import connect
from bucketpipe.lake.storage import LocalStore
from bucketpipe.serve.reader import LakeReader

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A history in a local lake and in a volume, and the questions to ask it."""

    spec: HistorySpec
    settings: Settings
    lake_dir: Path
    volume_dir: Path
    built: BuiltLake
    volume: Volume
    asked: list[Question] = field(repr=False)
    notes: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        for folder in (self.lake_dir, self.volume_dir):
            shutil.rmtree(folder, ignore_errors=True)


def prepare(
    base: Settings,
    out_dir: Path,
    spec: HistorySpec,
    *,
    symbol: str,
    workers: int | None = None,
) -> Prepared:
    lake_dir = out_dir / f"lake-{spec.days}d"
    volume_dir = out_dir / f"volume-{spec.days}d"
    shutil.rmtree(lake_dir, ignore_errors=True)
    settings = base.model_copy(update={"lake": str(lake_dir)})
    log.info("building history", extra={"history": spec.label})
    ctx = Context.from_settings(settings)
    try:
        built = build_lake(ctx, spec, workers=workers)
        scores = quality_history.write_history(ctx, spec)
    finally:
        ctx.close()
    notes = [] if scores else ["no quality report in the lake: the quality trend is not asked"]
    con = connect(settings)
    try:
        LakeReader(LocalStore(lake_dir)).register_views(con)
        volume = write_volume(con, volume_dir, quality=scores)
    finally:
        con.close()
    asked = questions(symbol, spec.end, with_quality=bool(scores))
    return Prepared(spec, settings, lake_dir, volume_dir, built, volume, asked, notes)


def lake_summary(prepared: Prepared) -> dict[str, Any]:
    objects = sum(1 for _ in LocalStore(prepared.lake_dir).list_objects())
    return {**prepared.built.as_dict(), "objects": objects}


def measure(
    prepared: Prepared,
    *,
    runs: int,
    baseline_runs: int,
    s3: BenchS3 | None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Figure rows for every question and lake, and the S3 requests of the first sync."""
    spec, asked = prepared.spec, prepared.asked
    log.info("measuring the lake", extra={"history": spec.label, "lake": "local"})
    local, _ = dashboard.answer_lake(prepared.settings, asked, runs)
    log.info("measuring the baseline", extra={"history": spec.label})
    baseline = dashboard.answer_volume(CsvDashboard(prepared.volume_dir), asked, baseline_runs)
    dashboard.check_answers(asked, local, baseline)
    rows = [_row(prepared, q, "local", local, baseline) for q in asked]
    sync_requests = None
    if s3 is not None:
        bucket = f"bench-{spec.days}d"
        # raw/ stays local: no dashboard query reads it.
        copied = mirror(LocalStore(prepared.lake_dir), s3, bucket, skip=("raw",))
        log.info(
            "measuring the lake", extra={"history": spec.label, "lake": "s3", "objects": copied}
        )
        remote, sync = dashboard.answer_lake(
            s3.settings(prepared.settings, bucket), asked, runs, proxy=s3.proxy
        )
        dashboard.check_answers(asked, remote, baseline)
        rows += [_row(prepared, q, "s3", remote, baseline) for q in asked]
        sync_requests = {"days": spec.days, **(sync.as_dict() if sync else {})}
    return rows, sync_requests


def _row(
    prepared: Prepared,
    q: Question,
    where: str,
    lake: dict[str, dashboard.Answered],
    baseline: dict[str, dashboard.Answered],
) -> dict[str, Any]:
    return dashboard.figure(
        q,
        days=prepared.spec.days,
        symbols=prepared.spec.symbols,
        where=where,
        lake=lake[q.name],
        volume=baseline[q.name],
    )
