"""Reading committed data: dataset -> current snapshot -> exactly its files, as DuckDB views."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from bucketpipe import catalog
from bucketpipe.lake import views
from bucketpipe.lake.duck import empty_relation_sql, quote_literal
from bucketpipe.lake.snapshots import Snapshot, list_datasets, read_current
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.lake.views import (
    RECENT_DAYS,
    RECENT_PREFIX,
    drop_views,
    is_current,
    recent_relation_sql,
    recent_view,
    relation_sql,
)

log = logging.getLogger(__name__)

# The read side's names for the view helpers of `bucketpipe.lake.views` and `.duck`.
__all__ = [
    "RECENT_DAYS",
    "RECENT_PREFIX",
    "DatasetInfo",
    "LakeReader",
    "create_views",
    "describe",
    "drop_views",
    "empty_relation_sql",
    "is_current",
    "literal",
    "recent_relation_sql",
    "recent_view",
    "relation_sql",
    "time_column_of",
]


@dataclass(frozen=True)
class DatasetInfo:
    """A committed dataset as readers see it."""

    name: str
    version: int
    rows: int
    files: int
    bytes: int
    updated_at: datetime
    max_time: datetime | None
    columns: tuple[tuple[str, str], ...]


def time_column_of(dataset: str) -> str | None:
    """The catalog's event-time column of a dataset (None for datasets it does not declare)."""
    try:
        return catalog.get(dataset).time_column
    except KeyError:
        return None


def create_views(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    name: str,
    snapshot: Snapshot,
    *,
    union: bool = True,
) -> None:
    """(Re)create the dataset's view and, with the catalog's event time, its recent window."""
    views.create_views(con, store, name, snapshot, time_column_of(name), union=union)


def create_views_lean(
    con: duckdb.DuckDBPyConnection, store: ObjectStore, name: str, snapshot: Snapshot
) -> None:
    """`create_views` opening one file instead of all when the files share the snapshot's
    schema (the common case: a dataset's files are written in one schema); otherwise, or
    if the first file does not show the snapshot's columns, lined up by name."""
    # DuckDB binds such a view from the first file listed: the newest, which the pages read
    # anyway (their recent rows), not the oldest, which they rarely need.
    newest_first = snapshot.model_copy(update={"files": snapshot.files[::-1]})
    create_views(con, store, name, newest_first, union=False)
    if not views.matches_snapshot(con, name, snapshot):
        create_views(con, store, name, snapshot)


class LakeReader:
    """Resolves datasets to snapshots and registers them as views on a DuckDB connection."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        # The newest version seen of each dataset: a reader never goes back to an older one,
        # even when `current.json` (a hint) does.
        self.seen: dict[str, int] = {}

    def datasets(self) -> list[str]:
        return list_datasets(self.store)

    def snapshot(self, dataset: str) -> Snapshot | None:
        snap = read_current(self.store, dataset, at_least=self.seen.get(dataset, 0))
        if snap is not None:
            self.seen[dataset] = snap.version
        return snap

    def info(self, dataset: str) -> DatasetInfo | None:
        snap = self.snapshot(dataset)
        if snap is None:
            return None
        return DatasetInfo(
            name=dataset,
            version=snap.version,
            rows=snap.rows,
            files=len(snap.files),
            bytes=snap.bytes,
            updated_at=snap.created_at,
            max_time=snap.max_time,
            columns=snap.columns,
        )

    def versions(self) -> dict[str, int]:
        """Dataset -> current snapshot version (the live-refresh signal without Redis)."""
        out = {}
        for name in self.datasets():
            snap = self.snapshot(name)
            if snap is not None:
                out[name] = snap.version
        return out

    def register_views(
        self, con: duckdb.DuckDBPyConnection, datasets: list[str] | None = None
    ) -> dict[str, int]:
        """Create one view per dataset over its current snapshot (and its recent-window view);
        dataset -> version. A derived dataset behind its inputs gets none (`is_current`)."""
        snapshots: dict[str, Snapshot] = {}

        def read(names: Iterable[str]) -> None:
            for name in names:
                if name not in snapshots and (snap := self.snapshot(name)) is not None:
                    snapshots[name] = snap

        wanted = datasets if datasets is not None else self.datasets()
        read(wanted)
        # The inputs a derived dataset records are read too, to tell whether it is current.
        read(name for snap in list(snapshots.values()) for name in snap.details.get("inputs", {}))
        versions: dict[str, int] = {}
        for name in wanted:
            snap = snapshots.get(name)
            if snap is None or not is_current(snap, snapshots):
                continue
            create_views(con, self.store, name, snap)
            versions[name] = snap.version
        return versions


def describe(name: str) -> str:
    """The catalog's description of a dataset ('' for datasets with no declaration)."""
    try:
        return catalog.get(name).description
    except KeyError:
        return ""


def literal(value: str) -> str:
    return quote_literal(value)
