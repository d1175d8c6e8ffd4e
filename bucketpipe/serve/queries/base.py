"""What every query module shares: dataset tags, column discovery, running SQL into frames."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import duckdb

from bucketpipe.catalog.spec import LINEAGE_NAMES
from bucketpipe.lake.duck import quote_ident
from bucketpipe.lake.views import columns, frame, has_view, views

# The connection helpers every query module uses live with the views they inspect.
__all__ = [
    "HIDDEN",
    "NUMERIC_TYPES",
    "column_names",
    "columns",
    "datasets_of",
    "frame",
    "has_view",
    "is_numeric",
    "is_time",
    "pick",
    "runnable",
    "select_list",
    "uses",
    "views",
    "visible",
]

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


def column_names(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    """The names `columns` lists for the view, in order ([] if it does not exist).

    Read from the view alone (DuckDB binds it, as any query over it does: its files' footers
    are in the connection's metadata cache), where `columns` lists every column of the
    catalog: every dataset's, every recent window's and DuckDB's own, about 1.3 ms a call on
    a lake of five datasets, against 0.2 ms. Anything the view alone cannot answer (no such
    view, a view that no longer binds) is asked of the catalog, as before.
    """
    try:
        names = con.view(view).columns
    except duckdb.Error:
        return list(columns(con, view))
    return [str(name) for name in names if str(name) != "_empty"]


def datasets_of(fn: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(getattr(fn, "datasets", ()))


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


def visible(cols: Iterable[str]) -> list[str]:
    """Columns worth showing by default: no lineage (`_...`) or partition (`dt`) columns."""
    return [c for c in cols if c not in HIDDEN and not c.startswith("_")]


def runnable(sql: str, params: Sequence[Any]) -> str:
    """The query with its parameters written in, to paste into the SQL page or `bucketpipe sql`.

    Only for showing: the page itself runs the parameterised query.
    """
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        return sql
    out = parts[0]
    for value, rest in zip(params, parts[1:], strict=True):
        out += _literal(value) + rest
    return out


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return f"{kind} '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bool | int | float):
        return repr(value).upper() if isinstance(value, bool) else repr(value)
    return "'" + str(value).replace("'", "''") + "'"
