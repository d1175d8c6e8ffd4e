"""Independent readers of the lake's Delta tables, compared with `bucketpipe sql`.

`bucketpipe sql`'s read path (the sandbox over our snapshots) is the reference. Each engine
(deltalake, Polars, DuckDB's `delta_scan` from the `duckdb-extension-delta` wheel) reads the
dataset's Delta table on its own; every result goes through pandas the same way and into one
canonical form (UTC timestamps as text, dates as text, lists as tuples, NaN as None), so two
readers agree exactly when they return the same rows and values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from bucketpipe.config.settings import Settings
from bucketpipe.lake.delta_log import reader_options, table_uri
from bucketpipe.lake.duck import connect, quote_literal
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.queries.session import open_sandbox
from bucketpipe.serve.sandbox.session import SqlSession

ENGINES = ("deltalake", "polars", "duckdb")
Rows = list[tuple[Any, ...]]


def delta_extension_path() -> Path:
    """The delta extension file in the `duckdb-extension-delta` wheel (loaded, never fetched)."""
    import duckdb_extension_delta

    base = Path(duckdb_extension_delta.__file__).parent / "extensions"
    return base / f"v{duckdb.__version__}" / "delta.duckdb_extension"


def canonical(value: Any) -> Any:
    """One comparable form of a value, whichever engine produced it."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.ndarray):
        return tuple(canonical(v) for v in value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, int):
        return float(value) if abs(value) < 2**53 else value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return "ntz " + value.isoformat()
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return tuple(sorted((str(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    return value


def canonical_rows(frame: pd.DataFrame, columns: list[str]) -> Rows:
    """The frame's rows over `columns`, canonical and sorted."""
    rows = [
        tuple(canonical(v) for v in row)
        for row in frame[columns].itertuples(index=False, name=None)
    ]
    return sorted(rows, key=repr)


class Readers:
    """Reads one lake's datasets through `bucketpipe sql` and through each Delta engine."""

    def __init__(self, settings: Settings, store: ObjectStore) -> None:
        self.settings = settings
        self.store = store
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._sandbox: SqlSession | None = None

    def sql(self, dataset: str) -> pd.DataFrame:
        """What `bucketpipe sql 'SELECT * FROM <dataset>'` returns (the sandbox is opened once
        per `refresh`, over the snapshots current then)."""
        if self._sandbox is None:
            self._sandbox = open_sandbox(self.settings)
        result = self._sandbox.run(f'SELECT * FROM "{dataset}"')
        assert not result.truncated, f"{dataset}: raise sql_max_rows for this test"
        return result.frame

    def sql_count(self, query: str) -> int:
        """The single number a `bucketpipe sql` query returns."""
        if self._sandbox is None:
            self._sandbox = open_sandbox(self.settings)
        return int(self._sandbox.run(query).frame.iloc[0, 0])

    def duck_count(self, query: str) -> int:
        """The single number a query on the DuckDB connection with the delta extension returns."""
        row = self._duckdb_connection().execute(query).fetchone()
        return int(row[0]) if row else 0

    def refresh(self) -> None:
        """Read the lake's snapshots again (after a commit)."""
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def delta(self, engine: str, dataset: str) -> pd.DataFrame:
        readers: dict[str, Callable[[str], pa.Table]] = {
            "deltalake": self._deltalake,
            "polars": self._polars,
            "duckdb": self._duckdb,
        }
        return readers[engine](dataset).to_pandas()

    def _deltalake(self, dataset: str) -> pa.Table:
        from deltalake import DeltaTable

        uri = table_uri(self.store, dataset)
        table = DeltaTable(uri, storage_options=reader_options(self.store))
        return pa.table(table.to_pyarrow_table())

    def _polars(self, dataset: str) -> pa.Table:
        import polars as pl

        options = reader_options(self.store) or None
        return pl.read_delta(table_uri(self.store, dataset), storage_options=options).to_arrow()

    def _duckdb_connection(self) -> duckdb.DuckDBPyConnection:
        if self._duck is None:
            self._duck = connect(self.settings)
            self._duck.execute(f"LOAD {quote_literal(str(delta_extension_path()))}")
            self._duck.execute("SET TimeZone = 'UTC'")
        return self._duck

    def _duckdb(self, dataset: str) -> pa.Table:
        uri = quote_literal(table_uri(self.store, dataset))
        con = self._duckdb_connection()
        return con.execute(f"SELECT * FROM delta_scan({uri})").to_arrow_table()

    def close(self) -> None:
        self.refresh()
        if self._duck is not None:
            self._duck.close()


def compare(readers: Readers, dataset: str, left_out: tuple[str, ...] = ("_row_hash",)) -> int:
    """Assert every engine returns what `bucketpipe sql` returns; the number of rows.

    Columns Delta has no type for (`left_out`) are not in the table's schema.
    """
    expected = readers.sql(dataset)
    columns = sorted(c for c in expected.columns if c not in left_out)
    want = canonical_rows(expected, columns)
    for engine in ENGINES:
        frame = readers.delta(engine, dataset)
        assert sorted(frame.columns) == columns, (
            f"{dataset} via {engine}: columns {sorted(frame.columns)} != {columns}"
        )
        got = canonical_rows(frame, columns)
        if got != want:
            missing = [r for r in want if r not in got][:2]
            extra = [r for r in got if r not in want][:2]
            raise AssertionError(
                f"{dataset} via {engine}: {len(got)} rows, `bucketpipe sql` {len(want)}; "
                f"columns {columns}; only in sql: {missing}; only in {engine}: {extra}"
            )
    return len(want)
