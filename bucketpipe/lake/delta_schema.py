"""The Delta Lake schema and file statistics of a dataset, from the types its files store.

Pure functions: DuckDB type names (as a snapshot records them, from `DESCRIBE` of the rows
written) become Delta's schema JSON; a snapshot's file entry becomes an add action's `stats`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bucketpipe.config.errors import TerminalError

# The partition column: a path segment (`dt=YYYY-MM-DD`), never inside the files.
PARTITION_COLUMN = "dt"

_PRIMITIVES = {
    "VARCHAR": "string",
    # Clean stores JSON as text; a JSON type in an older file is still UTF-8 bytes.
    "JSON": "string",
    "UUID": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "byte",
    "SMALLINT": "short",
    "INTEGER": "integer",
    "BIGINT": "long",
    "FLOAT": "float",
    "REAL": "float",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMPTZ": "timestamp",
    "TIMESTAMP": "timestamp_ntz",
    "BLOB": "binary",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_STRUCT = re.compile(r"^STRUCT\((.*)\)$", re.DOTALL)
_MAP = re.compile(r"^MAP\((.*)\)$", re.DOTALL)


class UnsupportedType(TerminalError):
    """A stored DuckDB type with no Delta Lake equivalent (the table is not mirrored)."""


def delta_type(duckdb_type: str) -> str | dict[str, Any]:
    """The Delta type of a DuckDB type name: a primitive name, or an array/struct/map object."""
    text = duckdb_type.strip()
    upper = text.upper()
    if upper in _PRIMITIVES:
        return _PRIMITIVES[upper]
    if upper.endswith("[]"):
        return {"type": "array", "elementType": delta_type(text[:-2]), "containsNull": True}
    if match := _DECIMAL.match(upper):
        return f"decimal({int(match[1])},{int(match[2])})"
    if match := _STRUCT.match(text):
        fields = [_split_field(part) for part in _split_top(match[1])]
        return {"type": "struct", "fields": [field(n, t) for n, t in fields]}
    if match := _MAP.match(text):
        key, value = _split_top(match[1])
        return {
            "type": "map",
            "keyType": delta_type(key),
            "valueType": delta_type(value),
            "valueContainsNull": True,
        }
    raise UnsupportedType(f"no Delta Lake type for DuckDB type {duckdb_type!r}")


def field(name: str, duckdb_type: str) -> dict[str, Any]:
    return {"name": name, "type": delta_type(duckdb_type), "nullable": True, "metadata": {}}


def schema_json(columns: Iterable[tuple[str, str]]) -> tuple[dict[str, Any], list[str]]:
    """The table schema (the stored columns, then the `dt` partition column, a date), and the
    columns left out because Delta has no type for them.

    Readers ignore a file's columns the schema does not name, so a left-out column (today the
    unsigned `_row_hash` key of landed-file datasets: Delta has no unsigned integers, and
    Polars refuses to read one as a signed or decimal type) costs the rest of the table nothing.
    """
    fields, skipped = [], []
    for name, typ in columns:
        if name == PARTITION_COLUMN:
            continue
        try:
            fields.append(field(name, typ))
        except UnsupportedType:
            skipped.append(name)
    fields.append({"name": PARTITION_COLUMN, "type": "date", "nullable": True, "metadata": {}})
    return {"type": "struct", "fields": fields}, skipped


def needs_timestamp_ntz(schema: Mapping[str, Any]) -> bool:
    """Whether a schema holds a timestamp without time zone (a reader/writer table feature)."""
    return '"timestamp_ntz"' in json.dumps(schema)


def same_schema(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same fields, types and order (field metadata and nullability aside)."""
    return _shape(a) == _shape(b)


def _shape(schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(f["name"], json.dumps(f["type"], sort_keys=True)) for f in schema["fields"]]


def file_stats(
    rows: int,
    *,
    time_column: str | None = None,
    time_type: str | None = None,
    low: datetime | None = None,
    high: datetime | None = None,
) -> str:
    """An add action's `stats`: the row count, and the event-time range when its type allows.

    Bounds may be loose, never tight: readers skip a file whose range misses their filter, so
    a timestamp's minimum is rounded down and its maximum up to the millisecond Delta keeps.
    """
    stats: dict[str, Any] = {"numRecords": rows}
    bounds = _bounds(time_type, low, high)
    if time_column and bounds is not None:
        stats["minValues"] = {time_column: bounds[0]}
        stats["maxValues"] = {time_column: bounds[1]}
    return json.dumps(stats, separators=(",", ":"))


def _bounds(
    time_type: str | None, low: datetime | None, high: datetime | None
) -> tuple[str, str] | None:
    if low is None or high is None or time_type is None:
        return None
    kind = delta_type(time_type) if time_type.upper() in _PRIMITIVES else None
    if kind == "date":
        return low.astimezone(UTC).date().isoformat(), high.astimezone(UTC).date().isoformat()
    if kind == "timestamp":
        floor = low.astimezone(UTC).replace(microsecond=low.microsecond // 1000 * 1000)
        ceil = high.astimezone(UTC)
        if ceil.microsecond % 1000:
            ceil = ceil.replace(microsecond=ceil.microsecond // 1000 * 1000) + timedelta(
                milliseconds=1
            )
        return _millis(floor), _millis(ceil)
    return None


def _millis(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses: `a INTEGER, b STRUCT(c INTEGER, d VARCHAR)`."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _split_field(text: str) -> tuple[str, str]:
    if text.startswith('"'):
        end = text.index('"', 1)
        return text[1:end], text[end + 1 :].strip()
    name, _, typ = text.partition(" ")
    return name, typ.strip()
