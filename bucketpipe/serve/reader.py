"""Reading committed data: dataset -> current snapshot -> exactly its files, as DuckDB views."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from bucketpipe.catalog import spec as catalog
from bucketpipe.lake.duck import (
    empty_relation_sql,
    quote_ident,
    quote_literal,
    read_parquet_sql,
    sql_list,
)
from bucketpipe.lake.snapshots import Snapshot, list_datasets, read_current
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

# The dashboard's questions about "now" (the latest quote per symbol, a sparkline of the last
# weeks) need only the newest weeks of a dataset. A second view per dataset reads just the
# files that can hold them, pruned by the snapshot's time metadata, so their cost stays flat as
# history grows. The `_` prefix cannot name a dataset (`list_datasets` skips it).
RECENT_PREFIX = "_recent_"
RECENT_DAYS = 50


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


def relation_sql(
    store: ObjectStore,
    snapshot: Snapshot,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """SQL reading exactly the snapshot's files (pruned by time from its metadata)."""
    files = snapshot.files_for(start=start, end=end)
    if not files:
        return empty_relation_sql(snapshot.columns)
    return read_parquet_sql(sql_list([store.duckdb_path(f.key) for f in files]))


def recent_view(dataset: str) -> str:
    """The name of the dataset's recent-window view."""
    return f"{RECENT_PREFIX}{dataset}"


def recent_relation_sql(
    store: ObjectStore, snapshot: Snapshot, time_column: str, *, days: int = RECENT_DAYS
) -> str | None:
    """SQL of exactly the rows whose event time is within `days` of the dataset's newest.

    Files whose `max_time` is older are never opened; the filter on the time column drops the
    older rows of the files that straddle the boundary, so the window is exact. None when the
    snapshot carries no time metadata or no such column, or when every row is in the window.
    """
    newest = snapshot.max_time
    if newest is None or time_column not in {name for name, _ in snapshot.columns}:
        return None
    since = newest - timedelta(days=days)
    oldest = [f.min_time for f in snapshot.files]
    if all(t is not None and t >= since for t in oldest):
        # The window would be the whole dataset: no view, so queries know they saw everything.
        return None
    base = relation_sql(store, snapshot, start=since)
    return (
        f"SELECT * FROM ({base}) "
        f"WHERE {quote_ident(time_column)} >= CAST({quote_literal(since.isoformat())} "
        "AS TIMESTAMPTZ)"
    )


def time_column_of(dataset: str) -> str | None:
    """The catalog's event-time column of a dataset (None for datasets it does not declare)."""
    try:
        return catalog.get(dataset).time_column
    except KeyError:
        return None


def create_views(
    con: duckdb.DuckDBPyConnection, store: ObjectStore, name: str, snapshot: Snapshot
) -> None:
    """(Re)create the dataset's view and, when it has event times, its recent-window view."""
    con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {relation_sql(store, snapshot)}")
    column = time_column_of(name)
    recent = recent_relation_sql(store, snapshot, column) if column else None
    if recent is None:
        con.execute(f"DROP VIEW IF EXISTS {quote_ident(recent_view(name))}")
    else:
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(recent_view(name))} AS {recent}")


def is_current(snapshot: Snapshot, snapshots: Mapping[str, Snapshot]) -> bool:
    """False for a derived snapshot computed from inputs whose rows have changed since.

    A dataset such as `market_overview` records the content versions it was computed from in
    its snapshot (`details["inputs"]`); between an input's commit and the derived one's, a
    reader hides it and answers from the inputs themselves. A compaction of an input changes
    its version, not its rows, and hides nothing.
    """
    inputs = snapshot.details.get("inputs")
    if not isinstance(inputs, dict):
        return True
    return all(
        (snapshots[name].content_version if name in snapshots else None) == version
        for name, version in inputs.items()
    )


def drop_views(con: duckdb.DuckDBPyConnection, name: str) -> None:
    for view in (name, recent_view(name)):
        con.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")


class LakeReader:
    """Resolves datasets to snapshots and registers them as views on a DuckDB connection."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def datasets(self) -> list[str]:
        return list_datasets(self.store)

    def snapshot(self, dataset: str) -> Snapshot | None:
        return read_current(self.store, dataset)

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
