"""Committed datasets as DuckDB views: a snapshot's exact files, its recent window, and what a
connection has registered. Shared by the read side and the steps that read committed data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from bucketpipe.lake.duck import (
    declared_types,
    empty_relation_sql,
    quote_ident,
    quote_literal,
    read_parquet_sql,
    sql_list,
)
from bucketpipe.lake.snapshots import Snapshot
from bucketpipe.lake.storage import ObjectStore

# The dashboard's questions about "now" (the latest quote per symbol, a sparkline of the last
# weeks) need only the newest weeks of a dataset. A second view per dataset reads just the
# files that can hold them, pruned by the snapshot's time metadata, so their cost stays flat as
# history grows. The `_` prefix cannot name a dataset (`list_datasets` skips it).
RECENT_PREFIX = "_recent_"
RECENT_DAYS = 50


def relation_sql(
    store: ObjectStore,
    snapshot: Snapshot,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    union: bool = True,
) -> str:
    """SQL reading exactly the snapshot's files (pruned by time from its metadata); `union`
    lines files of different schemas up by name (see `read_parquet_sql`)."""
    files = snapshot.files_for(start=start, end=end)
    if not files:
        return empty_relation_sql(snapshot.columns)
    paths = sql_list([store.duckdb_path(f.key) for f in files])
    return read_parquet_sql(paths, union_by_name=union)


def recent_view(dataset: str) -> str:
    """The name of the dataset's recent-window view."""
    return f"{RECENT_PREFIX}{dataset}"


def recent_relation_sql(
    store: ObjectStore,
    snapshot: Snapshot,
    time_column: str,
    *,
    days: int = RECENT_DAYS,
    union: bool = True,
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
    base = relation_sql(store, snapshot, start=since, union=union)
    return (
        f"SELECT * FROM ({base}) "
        f"WHERE {quote_ident(time_column)} >= CAST({quote_literal(since.isoformat())} "
        "AS TIMESTAMPTZ)"
    )


def create_views(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    name: str,
    snapshot: Snapshot,
    time_column: str | None,
    *,
    union: bool = True,
) -> None:
    """(Re)create the dataset's view and, when it has event times, its recent-window view.

    Without `union` the views open only the first file when created (DuckDB binds a view at
    once); check them with `matches_snapshot`, since files of another schema do not line up.
    """
    relation = relation_sql(store, snapshot, union=union)
    con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {relation}")
    recent = recent_relation_sql(store, snapshot, time_column, union=union) if time_column else None
    if recent is None:
        con.execute(f"DROP VIEW IF EXISTS {quote_ident(recent_view(name))}")
    else:
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(recent_view(name))} AS {recent}")


def matches_snapshot(con: duckdb.DuckDBPyConnection, name: str, snapshot: Snapshot) -> bool:
    """True if the view has exactly the snapshot's columns and types (and the partition)."""
    described = con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()
    found = {str(col): str(typ) for col, typ, *_ in described if col != "dt"}
    return found == declared_types(con, snapshot.columns)


def drop_views(con: duckdb.DuckDBPyConnection, name: str) -> None:
    for view in (name, recent_view(name)):
        con.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")


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


def views(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the views (datasets) registered on the connection; helper views such as the
    recent windows (`_recent_<dataset>`) are not datasets and not listed."""
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    return {str(r[0]) for r in rows if not str(r[0]).startswith("_")}


def has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True if a view of that exact name (helper views included) is registered."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND view_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    """Column -> DuckDB type of a view, in order; {} if the view does not exist."""
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = ? ORDER BY column_index",
        [view],
    ).fetchall()
    return {str(name): str(typ) for name, typ in rows if str(name) != "_empty"}


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Run SQL (values bound as parameters) into a pandas frame (through Arrow: exact types)."""
    table = con.execute(sql, list(params or [])).to_arrow_table()
    result: pd.DataFrame = table.to_pandas()
    return result
