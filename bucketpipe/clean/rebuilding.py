"""What a rebuild needs besides cleaning: which datasets exist, and rows whose raw is gone."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb

from bucketpipe import catalog
from bucketpipe.config.errors import ConfigError
from bucketpipe.lake.duck import sql_list
from bucketpipe.lake.snapshots import Snapshot, list_datasets
from bucketpipe.lake.storage import ObjectStore

PRESENT_RUNS = "_raw_runs"


def check_datasets(store: ObjectStore, names: Sequence[str]) -> None:
    """Every name is a catalog dataset (not derived) or a committed dataset of files."""
    known = {s.name for s in catalog.specs() if not s.derived_from} | set(list_datasets(store))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown dataset {unknown[0]!r}; known: {sorted(known)}")


def remember_present_runs(con: duckdb.DuckDBPyConnection, view: str = "raw") -> None:
    """`_raw_runs`: the input ids the rebuild can re-clean from raw."""
    con.execute(f"CREATE OR REPLACE TABLE {PRESENT_RUNS} AS SELECT DISTINCT run FROM {view}")


class Carry:
    """Builds, per dataset, the SQL of committed rows whose ingest run has no raw left.

    Retention deletes raw after a while; a rebuild keeps those rows as they were committed
    instead of losing them, and re-cleans everything else. Which runs still have raw lines
    takes a pass over all of raw; it is made once, and only when some committed row's run is
    not among the runs the rebuild just re-cleaned (`staged_runs`), which is the common case
    of a lake whose raw is all still there.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        store: ObjectStore,
        base: Callable[[str], Snapshot | None],
    ) -> None:
        self.con = con
        self.store = store
        # The version the rebuild replaces (its plan's base), whose rows are carried.
        self.base = base
        self.carried: dict[str, int] = {}
        self._present_known = False

    def __call__(self, dataset: str, staged_runs: str | None = None) -> str | None:
        snapshot = self.base(dataset)
        if snapshot is None or not snapshot.files:
            return None
        files = sql_list([self.store.duckdb_path(f.key) for f in snapshot.files])
        committed = (
            f"SELECT * FROM read_parquet({files}, union_by_name = true, hive_partitioning = false) "
            "WHERE _ingest_run IS NULL OR _ingest_run NOT IN "
        )
        # Rows of runs re-cleaned from raw are never carried: when those are all the rows,
        # nothing is, and raw need not be read again to say which runs it holds.
        if staged_runs is not None and self._count(f"{committed}({staged_runs})") == 0:
            return None
        if not self._present_known:
            remember_present_runs(self.con)
            self._present_known = True
        sql = f"{committed}(SELECT run FROM {PRESENT_RUNS})"
        rows = self._count(sql)
        if rows == 0:
            return None
        self.carried[dataset] = rows
        return sql

    def _count(self, sql: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
        return int(row[0]) if row else 0
