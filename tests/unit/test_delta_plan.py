"""Planning a Delta commit from a snapshot, and the table properties of a policy (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bucketpipe.lake.delta import Policy
from bucketpipe.lake.delta_commit import Plan, plan, relative_path
from bucketpipe.lake.snapshots import FileEntry, Snapshot


def snapshot(*keys: str) -> Snapshot:
    files = tuple(FileEntry(key=k, rows=1, bytes=10, partition="2026-12-01") for k in keys)
    return Snapshot(
        dataset="quotes", version=3, created_at=datetime.now(UTC), run_id="r", files=files
    )


def test_paths_are_relative_to_the_table_root() -> None:
    assert (
        relative_path("quotes", "clean/quotes/dt=2026-12-01/a.parquet") == "dt=2026-12-01/a.parquet"
    )


def test_a_file_outside_the_table_root_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the table root"):
        relative_path("quotes", "clean/other/dt=2026-12-01/a.parquet")


def test_a_new_table_adds_every_file() -> None:
    snap = snapshot("clean/quotes/dt=2026-12-01/a.parquet", "clean/quotes/dt=2026-12-01/b.parquet")
    assert plan("quotes", [], snap) == Plan(add=snap.files, remove=())


def test_the_commit_adds_what_is_new_and_removes_what_is_gone() -> None:
    snap = snapshot("clean/quotes/dt=2026-12-01/b.parquet", "clean/quotes/dt=2026-12-01/c.parquet")
    steps = plan("quotes", ["dt=2026-12-01/a.parquet", "dt=2026-12-01/b.parquet"], snap)
    assert [f.key for f in steps.add] == ["clean/quotes/dt=2026-12-01/c.parquet"]
    assert steps.remove == ("dt=2026-12-01/a.parquet",)


def test_a_level_table_needs_no_actions() -> None:
    snap = snapshot("clean/quotes/dt=2026-12-01/a.parquet")
    assert plan("quotes", ["dt=2026-12-01/a.parquet"], snap) == Plan()


def test_log_retention_follows_the_grace_period_and_delta_rs_cleanup_is_off() -> None:
    assert Policy(checkpoint_interval=10, log_retention_hours=6.0).properties() == {
        "delta.checkpointInterval": "10",
        "delta.logRetentionDuration": "interval 6 hours",
        "delta.enableExpiredLogCleanup": "false",
    }
    # Whole hours, never below one (time travel within the grace period needs the log).
    assert Policy(log_retention_hours=0).properties()["delta.logRetentionDuration"] == (
        "interval 1 hours"
    )
    assert Policy(log_retention_hours=2.5).properties()["delta.logRetentionDuration"] == (
        "interval 3 hours"
    )
