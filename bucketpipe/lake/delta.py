"""The Delta Lake mirror: each dataset's Delta table kept level with its current snapshot.

Our snapshots stay the source of truth. After a run's manifest is written (the commit),
`sync_lake` brings every dataset's Delta table (`clean/<dataset>/`, its log in `_delta_log/`)
level with the current snapshot: one Delta commit of add and remove actions for the same
Parquet files (nothing is copied), with the snapshot's version as the transaction (`txn`) of
app id `bucketpipe` (`delta_commit`). A table whose newest commit already names the snapshot
costs one LIST and one GET; a missing table (a lake from before the mirror) is created: the
backfill. A failed sync never fails or undoes the commit: it is logged, and the next writing
run, or `bucketpipe tables --sync`, brings the table level. delta-rs checkpoints every
`checkpoint_interval` commits; compaction's `tidy` checkpoints and expires the log on
vacuum's grace period and clock.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bucketpipe.lake.delta_commit import apply_snapshot, lost_race
from bucketpipe.lake.delta_log import (
    checkpoint_version,
    commit_version,
    expired_log_keys,
    head_snapshot_version,
    log_objects,
    table_uri,
    writer_options,
)
from bucketpipe.lake.snapshots import list_datasets, read_current
from bucketpipe.lake.storage import ObjectStore

if TYPE_CHECKING:
    from bucketpipe.config.settings import Settings

log = logging.getLogger(__name__)

# A commit that lost a race (a concurrent `tables --sync`) is planned again, at most this often.
ATTEMPTS = 3
# Tables synced at once: delta-rs releases the GIL, and on S3 the time is round trips.
WORKERS = 4


@dataclass(frozen=True)
class Policy:
    """Whether tables are kept, their checkpoint interval and log retention."""

    enabled: bool = True
    checkpoint_interval: int = 10
    log_retention_hours: float = 6.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            enabled=settings.delta_mirror,
            checkpoint_interval=settings.delta_checkpoint_interval,
            log_retention_hours=settings.vacuum_grace_hours,
        )

    def properties(self) -> dict[str, str]:
        """Table properties. The log is kept as long as vacuum keeps files (time travel within
        the grace period needs both); `tidy` expires it, on the same clock as vacuum, so
        delta-rs's own clean-up (on the wall clock, at each checkpoint) is off."""
        hours = max(1, math.ceil(self.log_retention_hours))
        return {
            "delta.checkpointInterval": str(self.checkpoint_interval),
            "delta.logRetentionDuration": f"interval {hours} hours",
            "delta.enableExpiredLogCleanup": "false",
        }


@dataclass
class Synced:
    """What one sync did to one table."""

    dataset: str
    action: str = "none"  # none | level | created | committed | failed | disabled
    snapshot_version: int | None = None
    delta_version: int | None = None
    added: int = 0
    removed: int = 0
    schema_changed: bool = False
    duration_ms: float = 0.0
    error: str | None = None
    left_out: list[str] = field(default_factory=list)
    expired: int = 0


def sync(store: ObjectStore, dataset: str, policy: Policy) -> Synced:
    """Bring the dataset's Delta table level with its current snapshot (create it if needed)."""
    started = time.perf_counter()
    result = Synced(dataset)
    if not policy.enabled:
        result.action = "disabled"
        return result
    for attempt in range(ATTEMPTS):
        snapshot = read_current(store, dataset)
        if snapshot is None:
            return result
        result.snapshot_version = snapshot.version
        if head_snapshot_version(store, dataset) == snapshot.version:
            result.action = "level"
            break
        try:
            applied = apply_snapshot(store, dataset, snapshot, policy.properties())
            result.action, result.delta_version = applied.action, applied.delta_version
            result.added, result.removed = applied.added, applied.removed
            result.schema_changed, result.left_out = applied.schema_changed, applied.left_out
            break
        except Exception as exc:
            # Another writer committed first (or created the table): plan again from its
            # version. Anything else is the caller's to report.
            if attempt == ATTEMPTS - 1 or not lost_race(exc):
                raise
            log.info("Delta commit lost a race; planning again", extra={"dataset": dataset})
    result.duration_ms = (time.perf_counter() - started) * 1000
    if result.action != "level":
        log.info(
            "Delta table synced",
            extra={
                "dataset": dataset,
                "action": result.action,
                "snapshot_version": result.snapshot_version,
                "delta_version": result.delta_version,
                "added": result.added,
                "removed": result.removed,
                "duration_ms": round(result.duration_ms, 1),
            },
        )
    return result


def tidy(store: ObjectStore, dataset: str, *, before: datetime) -> int:
    """Checkpoint the newest version if it has none, then delete the log files no version
    written since `before` needs (`delta_log.expired_log_keys`); files deleted.

    Called by compaction with vacuum's grace period and clock, so the log keeps exactly the
    versions whose data files vacuum keeps.
    """
    from deltalake import DeltaTable

    objects = log_objects(store, dataset)
    commits = [v for info in objects if (v := commit_version(info.key)) is not None]
    if not commits:
        return 0
    newest = max(commits)
    if not any(checkpoint_version(info.key) == newest for info in objects):
        DeltaTable(
            table_uri(store, dataset), storage_options=writer_options(store)
        ).create_checkpoint()
        objects = log_objects(store, dataset)
    expired = expired_log_keys(objects, before)
    store.delete(expired)
    return len(expired)


def sync_lake(
    store: ObjectStore,
    policy: Policy,
    datasets: Iterable[str] | None = None,
    *,
    expire_before: datetime | None = None,
) -> dict[str, Synced]:
    """`sync` every dataset (or those named), and `tidy` its log when `expire_before` is given.
    A failure is logged and reported, never raised: the commit it follows stands, and the next
    run brings the table level."""
    if not policy.enabled:
        return {}
    names = list(datasets) if datasets is not None else list_datasets(store)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="delta") as pool:
        synced = list(pool.map(lambda name: _guarded(store, name, policy, expire_before), names))
    return {s.dataset: s for s in synced}


def _guarded(
    store: ObjectStore, dataset: str, policy: Policy, expire_before: datetime | None
) -> Synced:
    try:
        result = sync(store, dataset, policy)
        if expire_before is not None and result.snapshot_version is not None:
            result.expired = tidy(store, dataset, before=expire_before)
        return result
    except Exception as exc:  # the mirror must never fail a committed run
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        log.warning(
            "Delta table not synced; the next run retries",
            extra={"dataset": dataset, "error": error},
        )
        return Synced(dataset, action="failed", error=error)
