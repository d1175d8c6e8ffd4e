"""The Delta Lake mirror: every snapshot commit replayed, zero-copy, into the dataset's Delta log.

Our snapshots stay the source of truth. After a run's manifest is written (the commit), `sync`
brings each dataset's Delta table level with its current snapshot, in one Delta commit of:
- `add` for each file the snapshot lists and the table does not, `remove` for each file the
  table holds and the snapshot no longer lists (the same Parquet files: nothing is copied);
  `dataChange` is false for a compaction, whose rows did not change;
- statistics: the row count, and the event-time range where the snapshot says which column;
- a `txn` (app id `bucketpipe`) whose version is the snapshot's, so a table is known to be
  level, is never given a snapshot twice and never goes backwards.
A changed schema (new columns, widened types) is a metadata-only commit first. The table's
properties make delta-rs checkpoint every `checkpoint_interval` commits and, when it does,
delete log entries older than the vacuum grace period. A table missing for a committed dataset
(a lake from before the mirror) is created from the current snapshot: the backfill.

A failed sync never fails or undoes the commit (`sync_lake` logs it): the next writing run, or
`bucketpipe tables --sync`, brings the table level.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bucketpipe.lake.delta_log import (
    APP_ID,
    checkpoint_version,
    commit_version,
    expired_log_keys,
    head_snapshot_version,
    log_objects,
    table_prefix,
    table_uri,
    writer_options,
)
from bucketpipe.lake.delta_schema import (
    PARTITION_COLUMN,
    file_stats,
    needs_timestamp_ntz,
    same_schema,
    schema_json,
)
from bucketpipe.lake.snapshots import SAME_ROWS, FileEntry, Snapshot, list_datasets, read_current
from bucketpipe.lake.storage import ObjectStore

if TYPE_CHECKING:
    from bucketpipe.config.settings import Settings

log = logging.getLogger(__name__)

# A commit that lost a race (a concurrent `tables --sync`) is planned again, at most this often.
ATTEMPTS = 3
# A partition no file is in: an overwrite limited to it removes nothing (a metadata commit).
NO_PARTITION = "0001-01-01"
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


@dataclass(frozen=True)
class Plan:
    """The file actions that bring a table to a snapshot's file set."""

    add: tuple[FileEntry, ...] = ()
    remove: tuple[str, ...] = ()


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


def relative_path(dataset: str, key: str) -> str:
    """A file's path relative to the table root, as add and remove actions name it."""
    prefix = table_prefix(dataset)
    if not key.startswith(prefix):
        raise ValueError(f"{key} is outside the table root {prefix}")
    return key[len(prefix) :]


def plan(dataset: str, table_paths: Iterable[str], snapshot: Snapshot) -> Plan:
    """The adds and removes that make the table hold exactly the snapshot's files."""
    have = set(table_paths)
    want = {relative_path(dataset, f.key): f for f in snapshot.files}
    return Plan(
        add=tuple(f for path, f in sorted(want.items()) if path not in have),
        remove=tuple(sorted(have - set(want))),
    )


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
            _apply(store, dataset, snapshot, policy, result)
            break
        except Exception as exc:
            # Another writer committed first (or created the table): plan again from its
            # version. Anything else is the caller's to report.
            if attempt == ATTEMPTS - 1 or not _lost_race(exc):
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
        DeltaTable(table_uri(store, dataset), storage_options=writer_options(store)).create_checkpoint()
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


def _apply(
    store: ObjectStore, dataset: str, snapshot: Snapshot, policy: Policy, result: Synced
) -> None:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri, options = table_uri(store, dataset), writer_options(store)
    schema, result.left_out = schema_json(snapshot.columns)
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        _create(store, dataset, snapshot, policy, schema)
        result.action, result.added, result.delta_version = "created", len(snapshot.files), 0
        return
    applied = table.transaction_version(APP_ID)
    if applied is not None and applied >= snapshot.version:
        result.action, result.delta_version = "level", table.version()
        return
    if _evolve(table, schema, policy):
        result.schema_changed = True
        table = DeltaTable(uri, storage_options=options)
    paths = table.get_add_actions(flatten=True).column("path").to_pylist()
    steps = plan(dataset, (str(p) for p in paths), snapshot)
    data_change = snapshot.operation not in SAME_ROWS
    actions = [_add(store, dataset, f, snapshot, data_change) for f in steps.add]
    actions += [_remove(path, snapshot, data_change) for path in steps.remove]
    table.create_write_transaction(
        actions,
        "append",
        _delta_schema(schema),
        partition_by=[PARTITION_COLUMN],
        commit_properties=_commit_properties(snapshot),
    )
    table.update_incremental()
    result.action, result.delta_version = "committed", table.version()
    result.added, result.removed = len(steps.add), len(steps.remove)


def _create(
    store: ObjectStore, dataset: str, snapshot: Snapshot, policy: Policy, schema: dict[str, Any]
) -> None:
    from deltalake.transaction import create_table_with_add_actions

    data_change = snapshot.operation not in SAME_ROWS
    create_table_with_add_actions(
        table_uri(store, dataset),
        _delta_schema(schema),
        [_add(store, dataset, f, snapshot, data_change) for f in snapshot.files],
        mode="error",
        partition_by=[PARTITION_COLUMN],
        name=dataset,
        configuration=policy.properties(),
        storage_options=writer_options(store),
        commit_properties=_commit_properties(snapshot),
    )


def _evolve(table: Any, schema: dict[str, Any], policy: Policy) -> bool:
    """Properties and schema made current before the data commit; True if the schema changed.

    A schema change is a metadata-only commit: an overwrite of a partition no file is in.
    A timestamp without time zone needs its table feature first, or the commit leaves a
    table no reader opens.
    """
    from deltalake import TableFeatures

    wanted = policy.properties()
    if any(table.metadata().configuration.get(k) != v for k, v in wanted.items()):
        table.alter.set_table_properties(wanted)
    if same_schema(json.loads(table.schema().to_json()), schema):
        return False
    features = table.protocol().reader_features or []
    if needs_timestamp_ntz(schema) and "timestampNtz" not in features:
        table.alter.add_feature(
            TableFeatures.TimestampWithoutTimezone, allow_protocol_versions_increase=True
        )
    table.create_write_transaction(
        [],
        "overwrite",
        _delta_schema(schema),
        partition_by=[PARTITION_COLUMN],
        partition_filters=[(PARTITION_COLUMN, "=", NO_PARTITION)],
    )
    return True


def _add(
    store: ObjectStore, dataset: str, entry: FileEntry, snapshot: Snapshot, data_change: bool
) -> Any:
    from deltalake.transaction import AddAction

    types = dict(snapshot.columns)
    column = snapshot.time_column if snapshot.time_column in types else None
    return AddAction(
        path=relative_path(dataset, entry.key),
        size=entry.bytes or _size(store, entry.key),
        partition_values={PARTITION_COLUMN: entry.partition},
        modification_time=_millis(snapshot.created_at),
        data_change=data_change,
        stats=file_stats(
            entry.rows,
            time_column=column,
            time_type=types.get(column) if column else None,
            low=entry.min_time,
            high=entry.max_time,
        ),
    )


def _remove(path: str, snapshot: Snapshot, data_change: bool) -> Any:
    from deltalake.transaction import RemoveAction

    # Stamped with our commit's time: vacuum counts the grace period from it.
    return RemoveAction(path, data_change, _millis(snapshot.created_at))


def _commit_properties(snapshot: Snapshot) -> Any:
    from deltalake.transaction import CommitProperties, Transaction

    return CommitProperties(
        custom_metadata={
            "bucketpipe.snapshot_version": snapshot.version,
            "bucketpipe.operation": snapshot.operation,
            "bucketpipe.run_id": snapshot.run_id,
        },
        # A lost race is planned again from the winner's version, not retried blindly.
        max_commit_retries=0,
        app_transactions=[Transaction(APP_ID, snapshot.version, _millis(snapshot.created_at))],
    )


def _delta_schema(schema: dict[str, Any]) -> Any:
    from deltalake import Schema

    return Schema.from_json(json.dumps(schema))


def _lost_race(exc: Exception) -> bool:
    from deltalake.exceptions import CommitFailedError

    return isinstance(exc, CommitFailedError) or "already exists" in str(exc).lower()


def _size(store: ObjectStore, key: str) -> int:
    info = store.head(key)
    if info is None:
        raise FileNotFoundError(f"{key} is in the snapshot but not in the lake")
    return info.size


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
