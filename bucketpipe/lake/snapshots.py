"""Snapshot commits: the committed file list of each dataset, switched by one PUT."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bucketpipe.config.errors import CommitConflict, ObjectNotFound
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
    ) -> list[FileEntry]:
        """Files that may hold rows in the given partitions or time range (pruning)."""
        wanted = set(partitions) if partitions is not None else None
        out = []
        for entry in self.files:
            if wanted is not None and entry.partition not in wanted:
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


def read_current(store: ObjectStore, dataset: str) -> Snapshot | None:
    """The dataset's current snapshot, or None if nothing was ever committed."""
    try:
        return Snapshot.model_validate_json(store.get(current_key(dataset)))
    except ObjectNotFound:
        return None


def read_version(store: ObjectStore, dataset: str, version: int) -> Snapshot:
    return Snapshot.model_validate_json(store.get(snapshot_key(dataset, version)))


def list_datasets(store: ObjectStore) -> list[str]:
    """Datasets that have a snapshot folder (one LIST call)."""
    names = [last_part(d) for d in store.list_dirs(snapshots_prefix())]
    return sorted(n for n in names if not n.startswith("_"))


def commit(
    store: ObjectStore,
    dataset: str,
    *,
    run_id: str,
    add: Iterable[FileEntry] = (),
    remove: Iterable[str] = (),
    columns: Iterable[tuple[str, str]] | None = None,
    time_column: str | None = None,
    operation: str = "append",
    replace_all: bool = False,
    expected_parent: int | bool | None = False,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """Commit a new version: previous files + `add` - `remove` (or only `add` if `replace_all`).

    The version document is created with create-if-absent, so two writers can never both
    commit the same version (the loser gets `CommitConflict`); then `current.json` is
    replaced, the one PUT readers observe. `expected_parent` (when not False) fails the commit
    if the current version moved since the caller read it.
    """
    check_name(dataset)
    current = read_current(store, dataset)
    parent = current.version if current else None
    if expected_parent is not False and expected_parent != parent:
        raise CommitConflict(
            f"{dataset}: expected to build on version {expected_parent}, found {parent}"
        )
    removed = set(remove)
    kept: list[FileEntry] = []
    if current and not replace_all:
        kept = [f for f in current.files if f.key not in removed]
    added = list(add)
    seen = {f.key for f in kept}
    duplicates = [f.key for f in added if f.key in seen]
    if duplicates:
        raise CommitConflict(f"{dataset}: files already in the snapshot: {duplicates[:3]}")
    cols = tuple(columns) if columns is not None else (current.columns if current else ())
    details = dict(details or {})
    if operation in SAME_ROWS and current is not None:
        # Same rows: what the parent recorded about them (a derived dataset's inputs) holds.
        details = {**current.details, **details, CONTENT_VERSION: current.content_version}
    snapshot = Snapshot(
        dataset=dataset,
        version=(parent or 0) + 1,
        created_at=now or datetime.now(UTC),
        run_id=run_id,
        parent=parent,
        files=tuple(sorted(kept + added, key=lambda f: (f.partition or "", f.key))),
        columns=cols,
        time_column=time_column or (current.time_column if current else None),
        operation=operation,
        details=details,
    )
    body = snapshot.model_dump_json().encode()
    if not store.put_new(snapshot_key(dataset, snapshot.version), body, "application/json"):
        raise CommitConflict(
            f"{dataset}: version {snapshot.version} was committed by another writer; rerun"
        )
    store.put(current_key(dataset), body, "application/json")
    log.debug(
        "snapshot committed",
        extra={"dataset": dataset, "version": snapshot.version, "files": len(snapshot.files)},
    )
    return snapshot


def discard_orphans(store: ObjectStore, dataset: str) -> list[int]:
    """Delete version documents newer than `current.json` (a writer crashed between the two).

    Such a version was never visible and its run has no manifest, so the run is redone; call
    this only while holding the writer lock.
    """
    current = read_current(store, dataset)
    floor = current.version if current else 0
    orphans = sorted(
        v
        for info in store.list_objects(snapshots_prefix(dataset))
        if (v := snapshot_version_of(info.key)) is not None and v > floor
    )
    if orphans:
        store.delete(snapshot_key(dataset, v) for v in orphans)
        log.warning(
            "discarded uncommitted snapshot versions",
            extra={"dataset": dataset, "versions": orphans, "current": floor},
        )
    return orphans
