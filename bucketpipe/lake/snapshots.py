"""Snapshots: the committed file list of each dataset, one immutable document per version.

The version documents (`_snapshots/<dataset>/<version>.json`) are the truth: each is created
once, with create-if-absent, by the commit it records (`bucketpipe.lake.commits`).
`current.json` is a hint: a copy of a recent version that lets a reader start without a
LIST. A reader takes the hint and probes forward (`<version + 1>.json`, a GET that usually
finds nothing) until no newer version exists, so a hint that lags (a writer died between its
version and the hint, or two writers raced on the hint) never takes a reader backwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import (
    check_name,
    current_key,
    last_part,
    snapshot_key,
    snapshot_version_of,
    snapshots_prefix,
)
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

# Version documents written by this commit protocol say so; older ones (protocol 1) were made
# visible by `current.json`, so one beyond the hint was never committed and is skipped.
PROTOCOL = 2
# How many versions a reader probes past the hint before it stops trusting the hint and
# lists the folder (a hint that far behind means many writers died before writing it).
PROBE_LIMIT = 16


class FileEntry(BaseModel):
    """One data file of a dataset, with what readers need to prune without opening it."""

    model_config = ConfigDict(frozen=True)

    key: str
    rows: int
    bytes: int = 0
    partition: str | None = None
    min_time: datetime | None = None
    max_time: datetime | None = None
    run_id: str | None = None


# Operations that rewrite files without changing a dataset's rows.
SAME_ROWS = frozenset({"compact"})
CONTENT_VERSION = "content_version"


def period_start(partition: str, grain: str) -> str:
    """The `dt` of the `grain` partition (day, month, quarter or year) that holds
    `partition`'s rows."""
    try:
        day = date.fromisoformat(partition)
    except ValueError:
        return partition
    if grain == "month":
        day = day.replace(day=1)
    elif grain == "quarter":
        day = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    elif grain == "year":
        day = day.replace(month=1, day=1)
    return day.isoformat()


class Snapshot(BaseModel):
    """The files that make up a dataset at one version."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    version: int
    created_at: datetime
    run_id: str
    parent: int | None = None
    files: tuple[FileEntry, ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    # The column the files' min_time/max_time describe (their event time), when known.
    time_column: str | None = None
    operation: str = "append"
    details: dict[str, Any] = Field(default_factory=dict)
    protocol: int = 1
    # The ingest inputs this version consumed: the version is their commit record.
    inputs: tuple[str, ...] = ()
    # Inputs the dataset consumed (in this version or before) that no clean run manifest
    # lists yet: what a writer planning against this version must not consume again.
    open_inputs: tuple[str, ...] = ()
    # Files of the parent this version stopped referencing; `created_at` is when (vacuum's
    # grace period counts from then).
    removed: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def content_version(self) -> int:
        """The version whose rows this one holds: a compaction rewrites files, not rows, so
        it keeps its parent's (what derived datasets record as their inputs)."""
        value = self.details.get(CONTENT_VERSION)
        return value if isinstance(value, int) else self.version

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.files]

    def partitions(self) -> list[str]:
        return sorted({f.partition for f in self.files if f.partition})

    def files_for(
        self,
        *,
        partitions: Iterable[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        grain: str | None = None,
    ) -> list[FileEntry]:
        """Files that may hold rows in the given partitions or time range (pruning). With a
        `grain`, a file's partition counts as the period of that grain it falls in: a day
        partition written before the dataset moved to month partitions belongs to its month."""
        wanted = set(partitions) if partitions is not None else None
        out = []
        for entry in self.files:
            held = entry.partition
            if grain is not None and held is not None:
                held = period_start(held, grain)
            if wanted is not None and held not in wanted:
                continue
            if start is not None and entry.max_time is not None and entry.max_time < start:
                continue
            if end is not None and entry.min_time is not None and entry.min_time > end:
                continue
            out.append(entry)
        return out

    @property
    def max_time(self) -> datetime | None:
        times = [f.max_time for f in self.files if f.max_time is not None]
        return max(times) if times else None


def read_version(store: ObjectStore, dataset: str, version: int) -> Snapshot:
    """One version document; `ObjectNotFound` if it does not exist (or was vacuumed)."""
    return Snapshot.model_validate_json(store.get(snapshot_key(dataset, version)))


def _committed(store: ObjectStore, dataset: str, version: int) -> Snapshot | None:
    try:
        snap = read_version(store, dataset, version)
    except ObjectNotFound:
        return None
    return snap if snap.protocol >= PROTOCOL else None


def read_hint(store: ObjectStore, dataset: str) -> Snapshot | None:
    """`current.json`: a recent version, maybe not the newest."""
    try:
        return Snapshot.model_validate_json(store.get(current_key(dataset)))
    except ObjectNotFound:
        return None


def read_current(store: ObjectStore, dataset: str, *, at_least: int = 0) -> Snapshot | None:
    """The dataset's newest committed version, or None if nothing was ever committed.

    From the hint, probe forward one version at a time. `at_least` is a version the caller
    has seen already (a reader never goes backwards, even if the hint does). A version
    document of the old protocol beyond the hint was never committed and is stepped over.
    """
    check_name(dataset)
    snap = read_hint(store, dataset)
    version = snap.version if snap else 0
    if at_least > version and (seen := _committed(store, dataset, at_least)) is not None:
        snap, version = seen, at_least
    probed = 0
    while True:
        following = _next_committed(store, dataset, version)
        if following is None:
            return snap
        snap, version = following, following.version
        probed += 1
        if probed == PROBE_LIMIT:
            return _newest_listed(store, dataset) or snap


def _next_committed(store: ObjectStore, dataset: str, version: int) -> Snapshot | None:
    """The committed version right after `version` (stepping over one leftover of the old
    protocol), or None."""
    try:
        following = read_version(store, dataset, version + 1)
    except ObjectNotFound:
        return None
    if following.protocol >= PROTOCOL:
        return following
    return _committed(store, dataset, version + 2)


def _newest_listed(store: ObjectStore, dataset: str) -> Snapshot | None:
    """The newest committed version found by listing the folder (the slow path)."""
    for version in sorted(list_versions(store, dataset), reverse=True):
        if (snap := _committed(store, dataset, version)) is not None:
            return snap
    return None


def list_versions(store: ObjectStore, dataset: str) -> list[int]:
    """Version numbers with a document in the dataset's folder (one LIST)."""
    return sorted(
        v
        for info in store.list_objects(snapshots_prefix(dataset))
        if (v := snapshot_version_of(info.key)) is not None
    )


def versions_between(store: ObjectStore, dataset: str, after: int, upto: int) -> list[Snapshot]:
    """The committed versions after `after` up to `upto`: what a writer that planned against
    `after` did not see. `ObjectNotFound` if one of them was vacuumed already (the plan is
    older than the grace period)."""
    out = []
    for version in range(after + 1, upto + 1):
        snap = read_version(store, dataset, version)
        if snap.protocol >= PROTOCOL:
            out.append(snap)
    return out


def list_datasets(store: ObjectStore) -> list[str]:
    """Datasets that have a snapshot folder (one LIST)."""
    names = [last_part(d) for d in store.list_dirs(snapshots_prefix())]
    return sorted(n for n in names if not n.startswith("_"))
