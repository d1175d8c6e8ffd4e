"""Run ledgers, the object estimate and the health verdicts, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bucketpipe.lake.census import Census, ObjectCount, estimate, usage
from bucketpipe.lake.ledger import JobLedger, LastRun, apply_run, objects_written
from bucketpipe.lake.runs import DatasetResult, RunManifest
from bucketpipe.serve.health import Expectations, age, problems
from bucketpipe.serve.metrics import CachedView, PipelineCollector
from bucketpipe.serve.ops import DatasetView, JobView, OpsView, merge_jobs

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def manifest(job: str, **fields: object) -> RunManifest:
    return RunManifest(job=job, run_id="r1", started_at=NOW, finished_at=NOW, **fields)  # type: ignore[arg-type]


def test_objects_written_from_a_manifest() -> None:
    ingest = manifest("ingest", outputs=["raw/a"], details={"copies": ["raw/b", "raw/c"]})
    assert objects_written(ingest) == {"_runs": 1, "raw": 3}
    clean = manifest(
        "clean",
        datasets={
            "new": DatasetResult(files_added=2, snapshot_version=1, quality_score=90.0),
            "old": DatasetResult(files_added=1, snapshot_version=7, rows_quarantined=3),
            "same": DatasetResult(),
        },
    )
    assert objects_written(clean) == {
        "_runs": 1,
        "clean": 5,  # three data files, two Delta commit files
        "_snapshots": 3,
        "quarantine": 1,
        "reports": 1,
    }
    assert objects_written(manifest("compact")) == {}


def test_a_ledger_counts_runs_and_failures_in_a_row() -> None:
    ledger = JobLedger(job="clean", updated_at=NOW)
    failed = LastRun(run_id="r1", status="failed", finished_at=NOW, reason="boom", exit_code=1)
    ledger = apply_run(ledger, failed, None, NOW)
    ledger = apply_run(ledger, failed, None, NOW)
    assert ledger.consecutive_failures == 2 and ledger.last_success_at is None
    ok = LastRun(run_id="r3", status="succeeded", finished_at=NOW)
    ledger = apply_run(ledger, ok, manifest("clean", datasets={"q": DatasetResult()}), NOW)
    assert ledger.runs == {"failed": 2, "succeeded": 1}
    assert ledger.consecutive_failures == 0 and ledger.last_success_at == NOW
    assert ledger.datasets_checked == {"q": NOW} and ledger.objects_written == {"_runs": 1}


def test_the_estimate_is_the_census_plus_what_was_written_since() -> None:
    ledger = JobLedger(job="clean", updated_at=NOW, objects_written={"clean": 10, "_runs": 4})
    census = Census(
        counted_at=NOW,
        total=100,
        areas={"clean": 60, "_runs": 40},
        marks={"clean": {"clean": 7, "_runs": 4}},
    )
    count = estimate(census, [ledger])
    assert count.total == 103 and count.areas == {"_runs": 40, "clean": 63}
    assert count.since_census == 3 and "census plus 3" in count.method
    assert estimate(None, [ledger]).total == 14
    assert usage(ObjectCount(total=400_000), 500_000, 80).level == "warning"
    assert usage(ObjectCount(total=399_999), 500_000, 80).level == "ok"
    assert usage(ObjectCount(total=500_000), 500_000, 80).level == "full"


def test_the_newest_word_on_a_job_wins() -> None:
    earlier = NOW - timedelta(minutes=15)
    ledger = JobLedger(
        job="clean",
        updated_at=earlier,
        consecutive_failures=1,
        runs={"failed": 1},
        last=LastRun(run_id="r1", status="failed", finished_at=earlier, reason="lake down"),
    )
    # Redis saw a later failure the lake could not record: one more in a row.
    live = {"clean": {"state": "failed", "finished_at": NOW.isoformat(), "message": "again"}}
    (view,) = merge_jobs([ledger], [], live)
    assert (view.last_status, view.consecutive_failures, view.reason) == ("failed", 2, "again")
    (view,) = merge_jobs([ledger], [manifest("clean")], {})
    assert view.last_status == "succeeded" and view.last_success_at == NOW


def test_problems_one_line_each() -> None:
    stale = NOW - timedelta(hours=2)
    view = OpsView(
        generated_at=NOW,
        lake="x",
        redis="off",
        jobs=[
            JobView("clean", "failed", "r9", stale, stale, None, 2, "boom"),
            JobView("compact", "succeeded", "c1", stale, stale),
        ],
        datasets=[DatasetView("quotes", 1, 10, 1, 100, stale, stale)],
        objects=ObjectCount(total=0),
        api_responses={},
    )
    expect = Expectations(
        jobs={"clean": timedelta(minutes=15), "compact": timedelta(days=1)},
        datasets={"quotes": timedelta(minutes=15)},
    )
    assert problems(view, expect, NOW) == [
        "job clean: last run r9 failed, 2 in a row: boom",
        "job clean: last success 2h ago (expected within 45m)",
        "dataset quotes: last refreshed 2h ago (expected within 45m)",
    ]
    assert problems(view, expect, NOW, jobs={"compact"}, datasets=False) == []
    relaxed = Expectations(jobs=expect.jobs, max_age=timedelta(hours=3))
    assert problems(view, relaxed, NOW) == ["job clean: last run r9 failed, 2 in a row: boom"]
    assert [age(timedelta(seconds=s)) for s in (5, 600, 7500, 90000)] == [
        "5s",
        "10m",
        "2h 5m",
        "1d 1h",
    ]


def test_quality_is_exported_for_a_dataset_with_a_report_and_no_snapshot() -> None:
    """A first delivery whose every row was quarantined commits no snapshot, but its report
    (validity 0) is what an operator must see in the metrics."""
    view = OpsView(
        generated_at=NOW,
        lake="x",
        redis="off",
        jobs=[],
        datasets=[DatasetView("quotes", 1, 10, 1, 100, NOW, NOW)],
        objects=ObjectCount(total=0),
        api_responses={},
        quality={"quotes": {"validity": (99.0, 85.0)}, "fresh": {"validity": (0.0, 85.0)}},
    )
    collector = PipelineCollector(
        CachedView(lambda: (view, 0), ttl=60),
        Expectations(),
        object_limit=1000,
        object_warn_percent=80,
    )
    scores = {
        (s.labels["dataset"], s.labels["dimension"]): (s.name, s.value)
        for family in collector.collect()
        for s in family.samples
        if s.name.endswith("dataset_quality_score")
    }
    assert scores == {
        ("fresh", "validity"): ("bucketpipe_dataset_quality_score", 0.0),
        ("quotes", "validity"): ("bucketpipe_dataset_quality_score", 99.0),
    }
