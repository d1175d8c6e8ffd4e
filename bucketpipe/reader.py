"""Reading committed data: dataset -> current snapshot -> exactly its files, as DuckDB views."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import duckdb

from bucketpipe import catalog
from bucketpipe.duck import quote_ident, quote_literal, sql_list
from bucketpipe.snapshots import Snapshot, list_datasets, read_current
from bucketpipe.storage import ObjectStore

log = logging.getLogger(__name__)


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


def empty_relation_sql(columns: tuple[tuple[str, str], ...]) -> str:
    """A typed relation with no rows (a dataset whose snapshot holds no files)."""
    if not columns:
        return "SELECT NULL AS _empty WHERE false"
    cols = ", ".join(f"CAST(NULL AS {typ}) AS {quote_ident(name)}" for name, typ in columns)
    return f"SELECT {cols}, CAST(NULL AS DATE) AS dt WHERE false"


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
    paths = sql_list([store.duckdb_path(f.key) for f in files])
    return (
        f"SELECT * FROM read_parquet({paths}, hive_partitioning = true, "
        f"hive_types = {{'dt': DATE}}, union_by_name = true)"
    )


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
        """Create one view per dataset over its current snapshot; dataset -> version."""
        versions: dict[str, int] = {}
        for name in datasets if datasets is not None else self.datasets():
            snap = self.snapshot(name)
            if snap is None:
                continue
            con.execute(
                f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {relation_sql(self.store, snap)}"
            )
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
