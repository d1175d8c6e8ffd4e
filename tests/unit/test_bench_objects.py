"""The object-count simulation's schedule arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from benchmarks.objects import Schedule, _summary, cron_run_id, first_monday_after
from bucketpipe.ingest.run import run_day


def test_cron_run_id_encodes_the_scheduled_minute() -> None:
    at = datetime(2026, 11, 23, 14, 15, tzinfo=UTC)
    run_id = cron_run_id("ingest-demo", at)
    assert run_id == f"ingest-demo-{int(at.timestamp()) // 60}"
    assert run_day(run_id, at + timedelta(days=1)) == at.date()  # the day comes from the id


def test_first_monday_after() -> None:
    assert first_monday_after(date(2026, 11, 22)) == date(2026, 11, 23)
    assert first_monday_after(date(2026, 11, 23)) == date(2026, 11, 30)


def test_full_day_schedule() -> None:
    assert Schedule(days=1, runs_per_day=96).full_day
    assert not Schedule(days=1, runs_per_day=8).full_day


def _day(added: int, net: int) -> dict[str, object]:
    return {"added_by_runs": added, "net_after_compaction": net}


def test_summary_uses_the_days_after_the_first() -> None:
    days = [_day(5000, 700), _day(3000, 40), _day(3200, 44)]
    summary = _summary(Schedule(days=3, runs_per_day=96), days, [1.0, 2.0, 3.0], 10.0)
    assert summary["objects_per_day_before_compaction"] == 3100
    assert summary["objects_per_day_after_compaction"] == 42
    assert summary["steady_state_days"] == 2
    assert summary["run_median_s"] == 2.0


def test_summary_of_partial_days_scales_only_the_runs() -> None:
    days = [_day(100, 60), _day(80, 20)]
    summary = _summary(Schedule(days=2, runs_per_day=8), days, [], 1.0)
    assert summary["objects_per_day_before_compaction"] == 80 * 12
    assert summary["objects_per_day_after_compaction"] == 20
    assert summary["full_day"] is False
