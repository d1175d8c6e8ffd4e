"""Vacuum: deleting data files and snapshot versions no reader can still hold.

A version stops being the newest when its successor is committed: from then on no reader can
resolve it any more, and one that resolved it before reads its files for a while. So a
version stays (with its files) while it was superseded less than the grace period ago, counted
from its successor's `created_at`, never from its own. Also kept whatever its age: the newest
version, and the newest `keep_versions` (the incremental derived datasets find what changed by
comparing with the version they last saw, and a writer that lost a race reads the versions it
missed). A file no kept version references was superseded longer than the grace period ago, or
never committed (a writer died or lost a race after uploading it): it goes once it is itself
older than the grace period (the writer may still be about to commit it).

The Delta log (`_delta_log/`) is never deleted here, nor any file a Delta version written
within the grace period references (`delta_log.referenced`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake import delta_log
from bucketpipe.lake.index import read_index, update_index
from bucketpipe.lake.layout import clean_prefix, current_key, snapshot_version_of, snapshots_prefix
from bucketpipe.lake.snapshots import Snapshot, read_current, read_hint, read_version
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)


def kept_versions(
    store: ObjectStore, head: Snapshot, *, grace: timedelta, now: datetime, keep_versions: int
) -> dict[int, Snapshot]:
    """The versions vacuum keeps: walking the parent chain down from the head, each version
    superseded less than `grace` ago, and at least the newest `keep_versions`."""
    kept = {head.version: head}
    newer = head
    while newer.parent is not None:
        superseded = now - newer.created_at
        if len(kept) >= keep_versions and superseded >= grace:
            break
        try:
            older = read_version(store, head.dataset, newer.parent)
        except ObjectNotFound:
            break
        kept[older.version] = older
        newer = older
    return kept


def vacuum(
    store: ObjectStore,
    dataset: str,
    *,
    grace: timedelta,
    now: datetime | None = None,
    keep_versions: int = 3,
) -> dict[str, int]:
    """Delete the version documents and data files of `dataset` that nothing keeps (above)."""
    now = now or datetime.now(UTC)
    head = read_current(store, dataset)
    if head is None:
        return {"files_deleted": 0, "versions_deleted": 0}
    kept = kept_versions(store, head, grace=grace, now=now, keep_versions=keep_versions)
    referenced = {key for snap in kept.values() for key in snap.keys}
    hint = read_hint(store, dataset)
    if hint is None or hint.version < head.version:
        # Readers probe forward from the hint through versions that may go now: move it first.
        store.put(current_key(dataset), head.model_dump_json().encode(), "application/json")
    # So does the lake index, which a lost update or a dead writer may have left behind.
    index = read_index(store)
    held = index.snapshots.get(dataset) if index else None
    if held is None or held.version < head.version:
        update_index(store, [head])
    # The Delta log is never ours to delete, nor a file a Delta reader may still hold.
    delta_refs = delta_log.referenced(
        store, dataset, since=now - grace, snapshot_version=head.version
    )
    stale_files = [
        info.key
        for info in store.list_objects(clean_prefix(dataset))
        if info.key not in referenced
        and now - info.last_modified >= grace
        and not delta_log.is_log_key(info.key)
        and delta_refs is not None
        and info.key not in delta_refs
    ]
    # Versions newer than the head read above are being committed right now: not ours.
    stale_versions = [
        info.key
        for info in store.list_objects(snapshots_prefix(dataset))
        if (v := snapshot_version_of(info.key)) is not None and v <= head.version and v not in kept
    ]
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
                "versions_kept": len(kept),
            },
        )
    return {"files_deleted": len(stale_files), "versions_deleted": len(stale_versions)}
