"""The dataset catalog: each dataset's schema, key, event time and extraction, declared once.

Clean uses it to build SQL, the dashboard to know what exists, the docs to describe it. The
SQL built here is pure text (tested by exact strings); identifiers come only from here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bucketpipe.lake.duck import quote_ident, quote_literal
from bucketpipe.lake.layout import check_name

ConflictPolicy = Literal["keep", "latest"]
PartitionGrain = Literal["day", "month", "quarter", "year"]

# Lineage columns every cleaned Finnhub/demo dataset carries.
LINEAGE: tuple[tuple[str, str, str], ...] = (
    ("_fetched_at", "TIMESTAMPTZ", "When the API call that produced the row was made."),
    ("_ingest_run", "VARCHAR", "Input id of the ingest run the row came from."),
    ("_clean_run", "VARCHAR", "Run id of the clean run that committed the row."),
)
LINEAGE_NAMES = tuple(name for name, _, _ in LINEAGE)


# `item->>'key'` (and the same on `params` and `parent`): the field accesses that
# `extract_sql` compiles into one parse per row. A JSONPath (`'$.a'`) or pointer is left as is.
FIELD_ACCESS = re.compile(r"(?<![\w.\]])(item|params|parent)->>'([A-Za-z_][A-Za-z0-9_]*)'")


# `TRY_CAST(item->>'key' AS DOUBLE)`: a field read as a number. Where every access of a key is
# one, the key is parsed as a number in the one parse (no text made and parsed again).
NUMBER_ACCESS = re.compile(rf"TRY_CAST\({FIELD_ACCESS.pattern} AS DOUBLE\)")
_ACCESS = re.compile(rf"{NUMBER_ACCESS.pattern}|{FIELD_ACCESS.pattern}")


def number_keys(exprs: Iterable[str]) -> dict[str, set[str]]:
    """The keys of each JSON source that `exprs` read only as numbers."""
    exprs = list(exprs)
    reads = Counter(access for e in exprs for access in FIELD_ACCESS.findall(e))
    numbers = Counter(access for e in exprs for access in NUMBER_ACCESS.findall(e))
    out: dict[str, set[str]] = {}
    for (source, key), n in numbers.items():
        if reads[(source, key)] == n:
            out.setdefault(source, set()).add(key)
    return out


def fields_read(exprs: Iterable[str]) -> dict[str, list[str]]:
    """The keys each JSON source (`item`, `params`, `parent`) is read by in `exprs`, in order."""
    found: dict[str, list[str]] = {}
    for expr in exprs:
        for source, key in FIELD_ACCESS.findall(expr):
            keys = found.setdefault(source, [])
            if key not in keys:
                keys.append(key)
    return found


def fields_struct(source: str) -> str:
    """The struct column holding a JSON source's fields, parsed once per row."""
    return f"_{source}_fields"


def read_fields_once(expr: str, numbers: Mapping[str, set[str]] | None = None) -> str:
    """`expr` with each `item->>'key'` turned into a field of the parsed struct.

    `json_transform` to VARCHAR fields gives exactly what `->>` gives (a scalar's text, a
    nested value's JSON, NULL when the key is missing or the value is not an object), but
    parses the JSON once for all the fields instead of once per access.

    A key of `numbers` is parsed as DOUBLE, which gives what `TRY_CAST(item->>'key' AS DOUBLE)`
    gives for every JSON value but `true` and `false` (1 and 0 where the text gives NULL): a
    value of 0 or 1 is read the long way.
    """
    numbers = numbers or {}

    def field(m: re.Match[str]) -> str:
        if m[1] is not None and m[2] in numbers.get(m[1], ()):
            value = f"{fields_struct(m[1])}.{quote_ident(m[2])}"
            return f"CASE WHEN {value} IN (0, 1) THEN {m[0]} ELSE {value} END"
        source, key = (m[1], m[2]) if m[1] is not None else (m[3], m[4])
        read = f"{fields_struct(source)}.{quote_ident(key)}"
        return f"TRY_CAST({read} AS DOUBLE)" if m[1] is not None else read

    return _ACCESS.sub(field, expr)


def parse_fields_sql(
    found: dict[str, list[str]], numbers: Mapping[str, set[str]] | None = None
) -> str:
    """Select-list entries parsing each JSON source's fields into its struct."""
    numbers = numbers or {}
    out = []
    for source, keys in found.items():
        types = {k: "DOUBLE" if k in numbers.get(source, ()) else "VARCHAR" for k in keys}
        shape = json.dumps(types, separators=(",", ":"))
        out.append(f"json_transform({source}, {quote_literal(shape)}) AS {fields_struct(source)}")
    return ", ".join(out)


@dataclass(frozen=True)
class Column:
    """A typed column and the SQL expression that extracts it from a raw line.

    The expression sees `item` (the JSON element of the body being turned into a row),
    `params` (the request parameters as JSON), `body` and `requested_at`; with an `Arrays`
    source also `item_source` (the label of the array) and, inside `within`, `parent`.
    """

    name: str
    type: str
    expr: str
    description: str = ""
    # Where a value is due, as SQL over the dataset's rows (window functions allowed; `{now}`
    # is the report's time): elsewhere the column is empty by definition (an actual before
    # the release, an indicator before its window fills), which completeness does not count.
    # Empty: a value is due in every row.
    due: str = ""


@dataclass(frozen=True)
class Rule:
    """A row is quarantined with `reason` when `condition` (SQL over the columns) is true."""

    reason: str
    condition: str


@dataclass(frozen=True)
class Arrays:
    """Rows from several JSON arrays of a body (or of each element of an outer array).

    `paths` are (label, JSONPath) pairs; rows of every path are concatenated and the label is
    visible to column expressions as `item_source`. With `within` (a JSONPath such as
    `$.data[*]`), the paths are evaluated inside each outer element, visible as `parent`.
    Raw is scanned once: the arrays of a line are unnested side by side.
    """

    paths: tuple[tuple[str, str], ...]
    within: str | None = None

    def source_sql(self, raw: str) -> str:
        of = "p.parent" if self.within else "r.body"
        branches = " UNION ALL ".join(
            f"SELECT {quote_literal(label)} AS item_source, "
            f"unnest(json_extract({of}, {quote_literal(path)})) AS item"
            for label, path in self.paths
        )
        if not self.within:
            return f"SELECT r.*, u.item_source, u.item FROM {raw} AS r, LATERAL ({branches}) AS u"
        outer = f"unnest(json_extract(r.body, {quote_literal(self.within)})) AS p(parent)"
        return (
            f"SELECT r.*, p.parent, u.item_source, u.item FROM {raw} AS r, {outer}, "
            f"LATERAL ({branches}) AS u"
        )


@dataclass(frozen=True)
class Zipped:
    """Rows from parallel arrays of a body (`{"t": [...], "c": [...]}`), zipped by position.

    Each row's `item` is an object with one value per key, e.g. `{"t": 1, "c": 2.5}`. Arrays
    of unequal length are padded with nulls; a key that is missing or not an array counts as
    empty. Each array is extracted once per body (not once per row: bodies can be large).
    """

    keys: tuple[str, ...]

    def source_sql(self, raw: str) -> str:
        arrays = ", ".join(
            f"unnest(json_extract(r.body, {quote_literal(f'$.{k}[*]')})) AS {quote_ident(k)}"
            for k in self.keys
        )
        fields = ", ".join(f"{quote_literal(k)}, u.{quote_ident(k)}" for k in self.keys)
        return (
            f"SELECT r.*, json_object({fields}) AS item "
            f"FROM {raw} AS r, LATERAL (SELECT {arrays}) AS u"
        )


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset cleaned from raw API lines."""

    name: str
    description: str
    endpoints: tuple[str, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    time_column: str
    rules: tuple[Rule, ...] = ()
    # Where a body's rows are: None (the body is one row), a JSONPath such as `$[*]`, or an
    # `Arrays`/`Zipped` source for bodies that need more than one level.
    items: str | Arrays | Zipped | None = None
    on_conflict: ConflictPolicy = "keep"
    partition_by: PartitionGrain = "day"
    # Columns the data files are sorted by when written and compacted (default: the event
    # time). Leading with `symbol` lets a one-symbol query skip the other symbols' row groups.
    cluster_by: tuple[str, ...] = ()
    premium: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    # Datasets computed from other datasets after each clean run (no raw endpoints, no SQL
    # extraction); their column expressions are unused.
    derived_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_name(self.name)
        names = [c.name for c in self.columns]
        wanted = (*self.primary_key, self.time_column, *self.cluster_by)
        missing = [k for k in wanted if k not in names]
        if missing:
            raise ValueError(f"{self.name}: key/time/cluster columns {missing} are not columns")
        if self.derived_from and self.endpoints:
            raise ValueError(f"{self.name}: a derived dataset has no raw endpoints")

    @property
    def sort_columns(self) -> tuple[str, ...]:
        """The order rows are written in: `cluster_by`, else the event time."""
        return self.cluster_by or (self.time_column,)

    @property
    def due(self) -> dict[str, str]:
        """Column -> where a value is due, for the columns empty by definition elsewhere."""
        return {c.name: c.due for c in self.columns if c.due}

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def schema(self) -> tuple[tuple[str, str], ...]:
        """(name, type) of every stored column, lineage included."""
        return tuple((c.name, c.type) for c in self.columns) + tuple(
            (name, typ) for name, typ, _ in LINEAGE
        )

    def extract_sql(self, raw: str = "raw") -> str:
        """SQL turning raw lines into typed rows plus `_reject_reason` (NULL when accepted)."""
        if self.derived_from:
            raise ValueError(f"{self.name} is derived from {self.derived_from}, not extracted")
        endpoints = ", ".join(quote_literal(e) for e in self.endpoints)
        if isinstance(self.items, Arrays | Zipped):
            source = self.items.source_sql(raw)
        elif self.items:
            items = f"CAST(json_extract(r.body, {quote_literal(self.items)}) AS JSON[])"
            source = f"SELECT r.*, u.item FROM {raw} AS r, unnest({items}) AS u(item)"
        else:
            source = f"SELECT r.*, r.body AS item FROM {raw} AS r"
        found = fields_read(c.expr for c in self.columns)
        numbers = number_keys(c.expr for c in self.columns)
        if found:
            source = f"SELECT *, {parse_fields_sql(found, numbers)} FROM ({source}) AS lines"
        selects = ",\n    ".join(
            f"{stored(c, read_fields_once(c.expr, numbers))} AS {quote_ident(c.name)}"
            for c in self.columns
        )
        typed = (
            f"SELECT\n    {selects},\n"
            f"    requested_at AS _fetched_at,\n"
            f"    run AS _ingest_run\n"
            f"  FROM ({source}) AS src\n"
            # A line whose call failed (an error status, or a 200 answer that was malformed or
            # not the endpoint's shape) carries its reason in `error`: it is not data.
            f"  WHERE endpoint IN ({endpoints}) AND status = 200 AND error IS NULL"
        )
        if self.rules:
            cases = "\n".join(
                f"    WHEN {r.condition} THEN {quote_literal(r.reason)}" for r in self.rules
            )
            reason = f"CASE\n{cases}\n  END"
        else:
            reason = "CAST(NULL AS VARCHAR)"
        return f"SELECT *, {reason} AS _reject_reason\nFROM (\n  {typed}\n) AS typed"


def stored(column: Column, expr: str) -> str:
    """SQL of a column's value as stored: its type, except JSON, which is validated and kept as
    text (Parquet's JSON annotation on bytes is read as binary by Polars and Delta readers)."""
    typed = f"CAST({expr} AS {column.type})"
    return f"CAST({typed} AS VARCHAR)" if column.type == "JSON" else typed
