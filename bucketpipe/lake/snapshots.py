"""Snapshot commits: the committed file list of each dataset, switched by one PUT."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bucketpipe.config.errors import CommitConflict, ObjectNotFound
from bucketpipe.lake import delta_log
from bucketpipe.lake.layout import (
    CLEAN,
    QUARANTINE,
    SNAPSHOTS,
    check_name,
    current_key,
    snapshot_key,
    snapshot_version_of,
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
    names = [d.rstrip("/").rsplit("/", 1)[-1] for d in store.list_dirs(f"{SNAPSHOTS}/")]
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
        for info in store.list_objects(f"{SNAPSHOTS}/{dataset}/")
        if (v := snapshot_version_of(info.key)) is not None and v > floor
    )
    if orphans:
        store.delete(snapshot_key(dataset, v) for v in orphans)
        log.warning(
            "discarded uncommitted snapshot versions",
            extra={"dataset": dataset, "versions": orphans, "current": floor},
        )
    return orphans


def vacuum(
    store: ObjectStore,
    dataset: str,
    *,
    grace: timedelta,
    now: datetime | None = None,
    keep_versions: int = 3,
) -> dict[str, int]:
    """Delete data files no live snapshot references, and old snapshot versions.

    A version stays live while it is among the newest `keep_versions` or younger than `grace`,
    so a reader that resolved an older snapshot keeps working. An unreferenced file is deleted
    only when it is itself older than `grace` (a writer may have uploaded it and not yet
    committed), and never while the dataset's Delta log references it from its newest version
    or from a version within `grace`; the log itself (`_delta_log/`) is never deleted here.
    """
    now = now or datetime.now(UTC)
    current = read_current(store, dataset)
    if current is None:
        return {"files_deleted": 0, "versions_deleted": 0}
    version_infos = {
        v: info
        for info in store.list_objects(f"{SNAPSHOTS}/{dataset}/")
        if (v := snapshot_version_of(info.key)) is not None
    }
    live_versions = {current.version}
    newest_first = sorted(version_infos, reverse=True)
    live_versions.update(newest_first[:keep_versions])
    for version, info in version_infos.items():
        if now - info.last_modified < grace:
            live_versions.add(version)
    referenced: set[str] = set(current.keys)
    for version in live_versions:
        if version == current.version or version not in version_infos:
            continue
        try:
            referenced.update(read_version(store, dataset, version).keys)
        except ObjectNotFound:
            continue
    # The Delta log is never ours to delete, nor a file a Delta reader may still hold.
    delta_refs = delta_log.referenced(
        store, dataset, since=now - grace, snapshot_version=current.version
    )
    stale_files = [
        info.key
        for info in store.list_objects(f"{CLEAN}/{dataset}/")
        if info.key not in referenced
        and now - info.last_modified >= grace
        and not delta_log.is_log_key(info.key)
        and delta_refs is not None
        and info.key not in delta_refs
    ]
    stale_versions = [info.key for v, info in version_infos.items() if v not in live_versions]
    # Versions first: a run killed in between must not leave a version document that
    # references files already deleted.
    store.delete(stale_versions)
    store.delete(stale_files)
    if stale_files or stale_versions:
        log.info(
            "vacuumed",
            extra={
                "dataset": dataset,
                "files_deleted": len(stale_files),
                "versions_deleted": len(stale_versions),
            },
        )
    return {"files_deleted": len(stale_files), "versions_deleted": len(stale_versions)}


def quarantine_prefix(dataset: str) -> str:
    return f"{QUARANTINE}/{dataset}/"


def partition_day(value: date | datetime) -> str:
    """The `dt=` partition of a timestamp (UTC date) or date."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    return value.isoformat()
