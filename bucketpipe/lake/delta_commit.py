"""One Bucketpipe snapshot as one Delta commit: the actions, the schema, the table's creation.

The table holds a file set; the snapshot another. `plan` is the difference, `apply_snapshot`
commits it (after a metadata-only commit when the schema changed) with the snapshot's version
as the transaction (`txn`) of app id `bucketpipe`. delta-rs is imported inside the functions
that use it: a process that never mirrors never loads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bucketpipe.lake.delta_log import APP_ID, table_prefix, table_uri, writer_options
from bucketpipe.lake.delta_schema import (
    PARTITION_COLUMN,
    file_stats,
    needs_timestamp_ntz,
    same_schema,
    schema_json,
)
from bucketpipe.lake.snapshots import SAME_ROWS, FileEntry, Snapshot
from bucketpipe.lake.storage import ObjectStore

# A partition no file is in: an overwrite limited to it removes nothing (a metadata commit).
NO_PARTITION = "0001-01-01"


@dataclass(frozen=True)
class Plan:
    """The file actions that bring a table to a snapshot's file set."""

    add: tuple[FileEntry, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass
class Applied:
    """What committing one snapshot did."""

    action: str  # created | committed | level
    delta_version: int | None = None
    added: int = 0
    removed: int = 0
    schema_changed: bool = False
    left_out: list[str] = field(default_factory=list)


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


def apply_snapshot(
    store: ObjectStore, dataset: str, snapshot: Snapshot, properties: Mapping[str, str]
) -> Applied:
    """Commit the snapshot to the dataset's table (creating it): one Delta commit of file
    actions, after a metadata commit if the schema changed. Raises what delta-rs raises."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri, options = table_uri(store, dataset), writer_options(store)
    schema, left_out = schema_json(snapshot.columns)
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        _create(store, dataset, snapshot, properties, schema)
        return Applied("created", 0, added=len(snapshot.files), left_out=left_out)
    mirrored = table.transaction_version(APP_ID)
    if mirrored is not None and mirrored >= snapshot.version:
        return Applied("level", table.version(), left_out=left_out)
    changed = _evolve(table, schema, properties)
    if changed:
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
    # The table object follows its own commit: its version is the new one, no reload.
    return Applied(
        "committed", table.version(), len(steps.add), len(steps.remove), changed, left_out
    )


def _create(
    store: ObjectStore,
    dataset: str,
    snapshot: Snapshot,
    properties: Mapping[str, str],
    schema: dict[str, Any],
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
        configuration=dict(properties),
        storage_options=writer_options(store),
        commit_properties=_commit_properties(snapshot),
    )


def _evolve(table: Any, schema: dict[str, Any], properties: Mapping[str, str]) -> bool:
    """Properties and schema made current before the data commit; True if the schema changed.

    A schema change is a metadata-only commit: an overwrite of a partition no file is in.
    A timestamp without time zone needs its table feature first, or the commit leaves a
    table no reader opens.
    """
    from deltalake import TableFeatures

    if any(table.metadata().configuration.get(k) != v for k, v in properties.items()):
        table.alter.set_table_properties(dict(properties))
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


def lost_race(exc: Exception) -> bool:
    """Whether a commit failed because another writer committed that version first."""
    from deltalake.exceptions import CommitFailedError

    return isinstance(exc, CommitFailedError) or "already exists" in str(exc).lower()


def _size(store: ObjectStore, key: str) -> int:
    info = store.head(key)
    if info is None:
        raise FileNotFoundError(f"{key} is in the snapshot but not in the lake")
    return info.size


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
