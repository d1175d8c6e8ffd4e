"""The `quality_reports` dataset: one row per report, one file per month, read by the trend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from bucketpipe.clean.report_rows import commit_reports, commit_rows
from bucketpipe.context import Context
from bucketpipe.lake.layout import current_key, snapshot_key
from bucketpipe.lake.snapshots import read_current
from bucketpipe.quality.report import REPORT_COUNTS, REPORTS_DATASET, QualityReport, write_report
from bucketpipe.serve.queries import quality
from tests.unit.test_queries_quality import T0, ctx, report

__all__ = ["ctx"]


def commit(ctx: Context, run_id: str, *reports: QualityReport, tmp: Path) -> None:
    with duckdb.connect() as con:
        commit_rows(
            con,
            ctx.store,
            {r.dataset: r for r in reports},
            run_id=run_id,
            scratch=tmp,
            now=T0,
        )


def test_runs_of_a_month_share_one_file_and_the_trend_reads_it(
    ctx: Context, tmp_path: Path
) -> None:
    for day in range(3):
        run = f"clean-{day}"
        commit(
            ctx,
            run,
            report("quotes", run, day, 90.0 + day),
            report("notes", run, day, 80.0),
            tmp=tmp_path,
        )
    snapshot = read_current(ctx.store, REPORTS_DATASET)
    assert snapshot is not None and snapshot.version == 3
    assert [(f.partition, f.rows) for f in snapshot.files] == [("2026-01-01", 6)]
    history = quality.history(ctx, ["quotes"], 2)
    assert history["run_id"].tolist() == ["clean-1", "clean-2"]  # the newest 2, oldest first
    assert history["overall_score"].tolist() == [91.0, 92.0]
    assert history["completeness"].tolist() == [91.0, 92.0]


def test_a_rerun_replaces_its_rows_and_months_are_files_of_their_own(
    ctx: Context, tmp_path: Path
) -> None:
    january = report("quotes", "clean-1", 0, 90.0)
    commit(ctx, "clean-1", january, tmp=tmp_path)
    commit(ctx, "clean-1", january.model_copy(update={"overall_score": 95.0}), tmp=tmp_path)
    february = report("quotes", "clean-2", 40, 70.0)
    commit(ctx, "clean-2", february, tmp=tmp_path)
    snapshot = read_current(ctx.store, REPORTS_DATASET)
    assert snapshot is not None
    assert sorted((f.partition, f.rows) for f in snapshot.files) == [
        ("2026-01-01", 1),
        ("2026-02-01", 1),
    ]
    # The newest month first; January is read only because one report is not enough.
    history = quality.history(ctx, ["quotes"], 5)
    assert history["overall_score"].tolist() == [95.0, 70.0]
    assert history["created_at"].tolist() == [T0, T0 + timedelta(days=40)]


def test_a_lake_without_the_dataset_reads_the_json_reports(ctx: Context) -> None:
    for day in range(2):
        write_report(ctx.store, report("quotes", f"clean-{day}", day, 90.0 + day))
    assert read_current(ctx.store, REPORTS_DATASET) is None
    assert quality.history(ctx, ["quotes"])["overall_score"].tolist() == [90.0, 91.0]


def test_the_first_commit_takes_the_reports_kept_as_json(ctx: Context, tmp_path: Path) -> None:
    for day in range(2):
        write_report(ctx.store, report("quotes", f"clean-{day}", day, 90.0 + day))
    new = report("quotes", "clean-2", 2, 99.0)
    with duckdb.connect() as con:
        result = commit_reports(con, ctx, {"quotes": new}, "clean-2", tmp_path)
    assert result is not None and result.rows_written == 3
    history = quality.history(ctx, ["quotes"])
    assert history["run_id"].tolist() == ["clean-0", "clean-1", "clean-2"]


def test_each_version_counts_the_reports_of_every_month_and_the_trend_reads_only_those(
    ctx: Context, tmp_path: Path
) -> None:
    for day, run in ((0, "clean-1"), (40, "clean-2"), (41, "clean-3")):
        commit(ctx, run, report("quotes", run, day, 90.0 + day), tmp=tmp_path)
    commit(ctx, "clean-4", report("notes", "clean-4", 1, 80.0), tmp=tmp_path)
    snapshot = read_current(ctx.store, REPORTS_DATASET)
    assert snapshot is not None
    assert snapshot.details[REPORT_COUNTS] == {
        "notes": {"2026-01-01": 1},
        "quotes": {"2026-01-01": 1, "2026-02-01": 2},
    }

    def months(*datasets: str, limit: int) -> list[str | None]:
        files = quality.history_files(snapshot, datasets, limit)
        return sorted(f.partition for f in files or [])

    assert months("quotes", limit=2) == ["2026-02-01"]  # February holds the newest two
    assert months("quotes", limit=3) == ["2026-01-01", "2026-02-01"]
    assert months("notes", limit=50) == ["2026-01-01"]
    assert months("nothing", limit=50) == []
    assert quality.history(ctx, ["quotes"], 2)["run_id"].tolist() == ["clean-2", "clean-3"]


def test_a_version_without_counts_is_counted_from_its_files_once(
    ctx: Context, tmp_path: Path
) -> None:
    commit(ctx, "clean-1", report("quotes", "clean-1", 0, 90.0), tmp=tmp_path)
    first = read_current(ctx.store, REPORTS_DATASET)
    assert first is not None
    # A version written before the counts were kept.
    bare = first.model_copy(update={"details": {}})
    assert quality.history_files(bare, ["quotes"], 5) is None
    for key in (snapshot_key(REPORTS_DATASET, 1), current_key(REPORTS_DATASET)):
        ctx.store.put(key, bare.model_dump_json().encode())
    assert read_current(ctx.store, REPORTS_DATASET) == bare
    commit(ctx, "clean-2", report("quotes", "clean-2", 40, 91.0), tmp=tmp_path)
    snapshot = read_current(ctx.store, REPORTS_DATASET)
    assert snapshot is not None
    assert snapshot.details[REPORT_COUNTS] == {"quotes": {"2026-01-01": 1, "2026-02-01": 1}}
