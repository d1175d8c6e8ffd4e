"""The Delta schema and statistics of a dataset: pure, tested by exact values (one rule each)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bucketpipe.lake.delta_schema import (
    UnsupportedType,
    delta_type,
    file_stats,
    needs_timestamp_ntz,
    same_schema,
    schema_json,
)


@pytest.mark.parametrize(
    ("duckdb_type", "expected"),
    [
        ("VARCHAR", "string"),
        ("JSON", "string"),
        ("BOOLEAN", "boolean"),
        ("INTEGER", "integer"),
        ("BIGINT", "long"),
        ("DOUBLE", "double"),
        ("DATE", "date"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp"),
        ("TIMESTAMPTZ", "timestamp"),
        ("TIMESTAMP", "timestamp_ntz"),
        ("DECIMAL(18,3)", "decimal(18,3)"),
        ("BLOB", "binary"),
    ],
)
def test_primitive_types_map_to_delta_primitives(duckdb_type: str, expected: str) -> None:
    assert delta_type(duckdb_type) == expected


def test_a_list_is_an_array_of_nullable_elements() -> None:
    assert delta_type("DOUBLE[]") == {
        "type": "array",
        "elementType": "double",
        "containsNull": True,
    }


def test_a_struct_keeps_its_fields_in_order_with_nested_types() -> None:
    assert delta_type('STRUCT(a INTEGER, "b c" STRUCT(d VARCHAR[]))') == {
        "type": "struct",
        "fields": [
            {"name": "a", "type": "integer", "nullable": True, "metadata": {}},
            {
                "name": "b c",
                "type": {
                    "type": "struct",
                    "fields": [
                        {
                            "name": "d",
                            "type": {
                                "type": "array",
                                "elementType": "string",
                                "containsNull": True,
                            },
                            "nullable": True,
                            "metadata": {},
                        }
                    ],
                },
                "nullable": True,
                "metadata": {},
            },
        ],
    }


def test_a_map_has_key_and_nullable_value_types() -> None:
    assert delta_type("MAP(VARCHAR, BIGINT)") == {
        "type": "map",
        "keyType": "string",
        "valueType": "long",
        "valueContainsNull": True,
    }


@pytest.mark.parametrize("duckdb_type", ["UBIGINT", "UINTEGER", "HUGEINT", "INTERVAL"])
def test_types_delta_has_no_equivalent_for_are_refused(duckdb_type: str) -> None:
    with pytest.raises(UnsupportedType):
        delta_type(duckdb_type)


def test_the_schema_is_the_stored_columns_then_the_dt_partition_as_a_date() -> None:
    schema, skipped = schema_json([("symbol", "VARCHAR"), ("_row_hash", "UBIGINT"), ("dt", "DATE")])
    assert schema == {
        "type": "struct",
        "fields": [
            {"name": "symbol", "type": "string", "nullable": True, "metadata": {}},
            {"name": "dt", "type": "date", "nullable": True, "metadata": {}},
        ],
    }
    assert skipped == ["_row_hash"]


def test_a_timestamp_without_time_zone_needs_the_table_feature() -> None:
    assert needs_timestamp_ntz(schema_json([("t", "TIMESTAMP")])[0])
    assert not needs_timestamp_ntz(schema_json([("t", "TIMESTAMPTZ")])[0])


def test_schemas_compare_by_names_types_and_order() -> None:
    a, _ = schema_json([("x", "BIGINT"), ("y", "VARCHAR")])
    assert same_schema(a, json.loads(json.dumps(a)))
    assert not same_schema(a, schema_json([("x", "DOUBLE"), ("y", "VARCHAR")])[0])
    assert not same_schema(a, schema_json([("y", "VARCHAR"), ("x", "BIGINT")])[0])


def test_stats_hold_the_row_count_without_a_time_column() -> None:
    assert file_stats(12) == '{"numRecords":12}'


def test_timestamp_bounds_are_widened_to_whole_milliseconds() -> None:
    low = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    high = datetime(2026, 1, 2, 9, 0, 0, 1, tzinfo=UTC)
    stats = json.loads(file_stats(3, time_column="ts", time_type="TIMESTAMPTZ", low=low, high=high))
    assert stats == {
        "numRecords": 3,
        "minValues": {"ts": "2026-01-02T03:04:05.678Z"},
        "maxValues": {"ts": "2026-01-02T09:00:00.001Z"},
    }


def test_date_bounds_are_days() -> None:
    low = datetime(2026, 1, 2, tzinfo=UTC)
    high = datetime(2026, 1, 9, tzinfo=UTC)
    stats = json.loads(file_stats(3, time_column="day", time_type="DATE", low=low, high=high))
    assert stats["minValues"] == {"day": "2026-01-02"} and stats["maxValues"] == {
        "day": "2026-01-09"
    }


def test_no_bounds_for_other_types_or_unknown_ranges() -> None:
    t = datetime(2026, 1, 2, tzinfo=UTC)
    assert (
        file_stats(1, time_column="t", time_type="TIMESTAMP", low=t, high=t) == '{"numRecords":1}'
    )
    assert file_stats(1, time_column="t", time_type="TIMESTAMPTZ", low=None, high=t) == (
        '{"numRecords":1}'
    )
