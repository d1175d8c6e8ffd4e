"""What every query module shares: dataset tags, column discovery, running SQL into frames."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import duckdb
import pandas as pd

from bucketpipe.catalog.spec import LINEAGE_NAMES
from bucketpipe.lake.duck import quote_ident

F = TypeVar("F", bound=Callable[..., Any])

NUMERIC_TYPES: tuple[str, ...] = (
    *("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"),
    *("UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL"),
)
HIDDEN = frozenset({*LINEAGE_NAMES, "dt", "_empty"})


def uses(*datasets: str) -> Callable[[F], F]:
    """Declare the datasets a query reads (its results are cached by their versions)."""

    def mark(fn: F) -> F:
        fn.__dict__["datasets"] = tuple(datasets)
        return fn

    return mark


def datasets_of(fn: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(getattr(fn, "datasets", ()))


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


def is_numeric(typ: str) -> bool:
    """A number column (a list of numbers, `DOUBLE[]`, is not one)."""
    return typ.upper().startswith(NUMERIC_TYPES) and "[" not in typ


def is_time(typ: str) -> bool:
    return typ.upper() == "DATE" or typ.upper().startswith("TIMESTAMP")


def pick(available: Iterable[str], *candidates: str) -> str | None:
    """The first candidate column that exists (datasets differ in naming)."""
    names = set(available)
    return next((c for c in candidates if c in names), None)


def select_list(cols: Sequence[str]) -> str:
    return ", ".join(quote_ident(c) for c in cols)


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Run SQL (values bound as parameters) into a pandas frame (through Arrow: exact types)."""
    table = con.execute(sql, list(params or [])).to_arrow_table()
    result: pd.DataFrame = table.to_pandas()
    return result


def visible(cols: Iterable[str]) -> list[str]:
    """Columns worth showing by default: no lineage (`_...`) or partition (`dt`) columns."""
    return [c for c in cols if c not in HIDDEN and not c.startswith("_")]
