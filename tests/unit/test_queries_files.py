"""Which files a page reads, and which of them it reads whole (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bucketpipe.lake.snapshots import FileEntry, Snapshot
from bucketpipe.serve.queries import files

MB = 2**20


def entry(partition: str, first: str, last: str, size: int = MB) -> FileEntry:
    return FileEntry(
        key=f"clean/quotes/dt={partition}/{first}.parquet",
        rows=10,
        bytes=size,
        partition=partition,
        min_time=datetime.fromisoformat(first).replace(tzinfo=UTC),
        max_time=datetime.fromisoformat(last).replace(tzinfo=UTC),
    )


NOV = entry("2026-11-01", "2026-11-02T14:30", "2026-11-30T21:00")
DEC = entry("2026-12-01", "2026-12-01T14:30", "2026-12-04T21:00")
SNAP = Snapshot(
    dataset="quotes",
    version=3,
    created_at=datetime(2026, 12, 4, tzinfo=UTC),
    run_id="r",
    files=(NOV, DEC),
)


def test_the_newest_partition_is_its_files() -> None:
    assert files.newest_files(SNAP) == [DEC]


def test_small_files_are_read_whole_and_big_ones_by_row_group() -> None:
    assert files.whole([NOV, DEC]) == (NOV.key, DEC.key)
    big = entry("2026-10-01", "2026-10-01T14:30", "2026-10-30T21:00", files.WHOLE_MAX_BYTES + 1)
    assert files.whole([big, DEC]) == ()
    many = [DEC.model_copy(update={"key": str(i), "bytes": 20 * MB}) for i in range(4)]
    assert files.whole(many) == ()  # 80 MB together


def test_a_window_starts_at_the_partition_of_its_last_day() -> None:
    assert files.partition_start(SNAP, date(2026, 12, 3)) == date(2026, 12, 1)
    assert files.partition_start(SNAP, date(2026, 11, 20)) == date(2026, 11, 1)
    assert files.partition_start(SNAP, date(2027, 1, 5)) is None  # no file holds that day
    assert files.partition_start(None, date(2026, 12, 3)) is None


def test_the_first_day_comes_from_the_files_metadata() -> None:
    assert files.first_day(SNAP) == date(2026, 11, 2)
    assert files.first_day(None) is None
