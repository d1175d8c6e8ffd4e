"""Data files: the Parquet options they are written with, and the snapshot entry that
describes each one (rows, bytes, partition, the range of its event time)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bucketpipe.lake.duck import ROW_GROUP_ROWS, quote_ident, quote_literal
from bucketpipe.lake.snapshots import FileEntry

# Clean writes row groups of this many rows (DuckDB's default); compaction writes larger ones.
CLEAN_ROW_GROUP = ROW_GROUP_ROWS
PARQUET_OPTIONS = f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {CLEAN_ROW_GROUP}"
# Clustered files get smaller row groups: their min/max statistics are what lets a query
# for one symbol skip the rest.
CLUSTERED_ROW_GROUP = 16384


def column_bounds(statistics: object, column: str) -> tuple[str | None, str | None]:
    """(min, max) of a column from COPY's RETURN_STATS `column_statistics` map (as text)."""
    if not isinstance(statistics, dict):
        return None, None
    found = statistics.get(quote_ident(column), statistics.get(column))
    if not isinstance(found, dict):
        return None, None
    return found.get("min"), found.get("max")


def file_entry(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    key: str,
    partition: str,
    time_column: str | None,
    run_id: str,
) -> FileEntry:
    """Describe a written Parquet file: rows, bytes and the range of its event time."""
    if time_column:
        col = quote_ident(time_column)
        bounds = f"min({col})::VARCHAR, max({col})::VARCHAR"
    else:
        bounds = "NULL, NULL"
    stats = con.execute(
        f"SELECT count(*), {bounds} FROM read_parquet({quote_literal(str(path))}, "
        "hive_partitioning = false)"
    ).fetchone()
    assert stats is not None
    return FileEntry(
        key=key,
        rows=int(stats[0]),
        bytes=path.stat().st_size,
        partition=partition,
        min_time=as_time(stats[1]),
        max_time=as_time(stats[2]),
        run_id=run_id,
    )


def as_time(value: object) -> datetime | None:
    """A statistics value (a date or a timestamp, as text) as an aware datetime."""
    if value is None:
        return None
    text = str(value)
    if len(text) == 10:
        text += "T00:00:00+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
