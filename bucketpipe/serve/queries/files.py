"""The files a page reads: a dataset's newest partition or a time range as SQL over exactly
those files, and which of them are small enough to read whole.

DuckDB reads a remote Parquet file with a HEAD, a GET of its footer and a GET per row group
it needs; a file read whole first (`LakeSession.prefetch`) costs a HEAD and one GET, and every
query after that reads it from memory. Pages that read most of a few small files read them
whole; bigger ones are left to DuckDB's ranged reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bucketpipe.lake.snapshots import FileEntry, Snapshot
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.reader import relation_sql

# A file is read whole only up to this size (a year of daily indicators of 500 symbols is
# 12 MB); the files read whole by one call, together, up to `WHOLE_MAX_TOTAL`.
WHOLE_MAX_BYTES = 32 * 2**20
WHOLE_MAX_TOTAL = 64 * 2**20


@dataclass(frozen=True)
class Picked:
    """SQL over some of a dataset's files, and the keys of those worth reading whole."""

    sql: str
    whole: tuple[str, ...]


def whole(files: Iterable[FileEntry]) -> tuple[str, ...]:
    """Keys of the files to read whole: all of them when each and their sum are small enough,
    else none (a big dataset is read by row group, as before)."""
    chosen = list(files)
    if any(f.bytes > WHOLE_MAX_BYTES for f in chosen):
        return ()
    if sum(f.bytes for f in chosen) > WHOLE_MAX_TOTAL:
        return ()
    return tuple(f.key for f in chosen)


def newest_files(snapshot: Snapshot) -> list[FileEntry]:
    """The files of the dataset's newest partition (its newest rows are there)."""
    partitions = snapshot.partitions()
    if not partitions:
        return list(snapshot.files)
    return snapshot.files_for(partitions=[partitions[-1]])


def pick(store: ObjectStore, snapshot: Snapshot, files: list[FileEntry]) -> Picked | None:
    """SQL over exactly `files` of the snapshot (None when there are none)."""
    if not files:
        return None
    only = snapshot.model_copy(update={"files": tuple(files)})
    return Picked(relation_sql(store, only), whole(files))


def newest(store: ObjectStore, snapshot: Snapshot | None) -> Picked | None:
    """SQL over the dataset's newest partition."""
    return pick(store, snapshot, newest_files(snapshot)) if snapshot is not None else None


def days(store: ObjectStore, snapshot: Snapshot | None, first: date, last: date) -> Picked | None:
    """SQL over the files that may hold rows of the days `first` to `last` (UTC)."""
    if snapshot is None:
        return None
    start, end = _moment(first), _moment(last + timedelta(days=1))
    return pick(store, snapshot, snapshot.files_for(start=start, end=end))


def partition_start(snapshot: Snapshot | None, day: date) -> date | None:
    """The first day of the partition that holds `day`'s rows (a month for month partitions):
    a window that starts there reads that partition's files only."""
    if snapshot is None:
        return None
    held = snapshot.files_for(start=_moment(day), end=_moment(day + timedelta(days=1)))
    starts = []
    for entry in held:
        try:
            starts.append(date.fromisoformat(entry.partition or ""))
        except ValueError:
            return None
    return max(starts) if starts else None


def first_day(snapshot: Snapshot | None) -> date | None:
    """The dataset's first event day (UTC), from its files' metadata."""
    if snapshot is None:
        return None
    times = [f.min_time for f in snapshot.files if f.min_time is not None]
    return min(times).astimezone(UTC).date() if times else None


def _moment(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)
