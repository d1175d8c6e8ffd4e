"""Vacuum: deleting data files and snapshot versions no reader can still hold.

A file is deleted only after it has been unreferenced by every live version for the grace
period, so a reader that resolved an older snapshot keeps working.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake import delta_log
from bucketpipe.lake.layout import clean_prefix, snapshot_version_of, snapshots_prefix
from bucketpipe.lake.snapshots import read_current, read_version
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)


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
        for info in store.list_objects(snapshots_prefix(dataset))
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
        for info in store.list_objects(clean_prefix(dataset))
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
