"""What every query module shares: dataset tags, column discovery, running SQL into frames."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from bucketpipe.catalog.spec import LINEAGE_NAMES
from bucketpipe.lake.duck import quote_ident
from bucketpipe.lake.views import columns, frame, has_view, views

# The connection helpers every query module uses live with the views they inspect.
__all__ = [
    "HIDDEN",
    "NUMERIC_TYPES",
    "columns",
    "datasets_of",
    "frame",
    "has_view",
    "is_numeric",
    "is_time",
    "pick",
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
