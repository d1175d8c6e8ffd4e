"""The SQL steps of generic cleaning, checked on small in-memory tables."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from bucketpipe.catalog.rules import DatasetRules
from bucketpipe.clean.inference import TypeChoice
from bucketpipe.clean.parsing import Parser, format_regex
from bucketpipe.clean.steps import reject_reason_sql, row_hash_sql, typed_name
from bucketpipe.clean.summary import drift
from bucketpipe.config.values import parse_size
from bucketpipe.lake.memory import max_json_object


def test_row_hash_ignores_column_order_and_added_empty_columns() -> None:
    con = duckdb.connect()
    row = con.execute(
        f"SELECT {row_hash_sql(['a', 'b'])}, {row_hash_sql(['b', 'a'])} "
        "FROM (SELECT 'x' AS a, 'y' AS b)"
    ).fetchone()
    with_empty = con.execute(
        f"SELECT {row_hash_sql(['a', 'b', 'c'])} FROM (SELECT 'x' AS a, 'y' AS b, NULL AS c)"
    ).fetchone()
    swapped = con.execute(
        f"SELECT {row_hash_sql(['a', 'b'])} FROM (SELECT 'y' AS a, 'x' AS b)"
    ).fetchone()
    assert row is not None and with_empty is not None and swapped is not None
    assert row[0] == row[1] == with_empty[0] != swapped[0]


def test_row_hash_is_the_low_half_of_md5_as_committed_rows_have_it() -> None:
    """`_row_hash` is committed: a new way of computing it must give every row the value
    earlier commits gave it, the low 64 bits of the MD5 of its `name=value` text read little
    endian (what DuckDB's `md5_number_lower` gives)."""
    con = duckdb.connect()
    cases = [("x", "y"), (None, None), ("", "é≠\x00"), ("1,5", None), (None, "a" * 300)]
    for a, b in cases:
        text = "\x1f".join(f"{k}={v}" for k, v in (("a", a), ("b", b)) if v is not None)
        digest = hashlib.md5(text.encode(), usedforsecurity=False).digest()
        row = con.execute(
            f"SELECT {row_hash_sql(['b', 'a'])}, md5_number_lower(?) FROM (SELECT ? AS a, ? AS b)",
            [text, a, b],
        ).fetchone()
        assert row == (int.from_bytes(digest[8:], "little"),) * 2, (a, b)
    assert con.execute(f"SELECT {row_hash_sql([])}").fetchone() == (
        int.from_bytes(hashlib.md5(b"", usedforsecurity=False).digest()[8:], "little"),
    )


def test_row_hash_does_not_collide_on_similar_rows() -> None:
    con = duckdb.connect()
    distinct = con.execute(
        f"SELECT count(DISTINCT {row_hash_sql(['id', 'name'])}) FROM "
        "(SELECT CAST(i AS VARCHAR) AS id, 'name ' || i AS name FROM range(200000) t(i))"
    ).fetchone()
    assert distinct == (200_000,)


def _choice(name: str, type_name: str) -> TypeChoice:
    return TypeChoice(name, Parser(type_name), type_name)


def test_reject_reasons_in_order() -> None:
    rules = DatasetRules(key=("id",))
    choices = {"id": _choice("id", "BIGINT"), "n": _choice("n", "DOUBLE")}
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE t AS SELECT * FROM (VALUES (NULL, NULL, NULL, NULL), "
        "(NULL, NULL, '1', 1.0), ('x', NULL, '2', 2.0), ('1', 1, 'y', NULL), ('1', 1, '3', 3.0)) "
        f"AS v(id, {typed_name('id')}, n, {typed_name('n')})"
    )
    reasons = con.execute(f"SELECT {reject_reason_sql(choices, rules)} FROM t").fetchall()
    assert [r for (r,) in reasons] == [
        "empty row",
        "missing value in id",
        "invalid BIGINT in id",
        "invalid DOUBLE in n",
        None,
    ]


def test_drift_reports_new_missing_and_retyped_columns() -> None:
    choices = {
        "a": TypeChoice("a", Parser("BIGINT"), "BIGINT", committed="BIGINT", action="kept"),
        "b": TypeChoice("b", Parser("BOOLEAN"), "VARCHAR", committed="BOOLEAN", action="kept"),
        "c": TypeChoice("c", Parser("DOUBLE"), "BIGINT", committed="DOUBLE", action="kept"),
        "new": TypeChoice("new", Parser("VARCHAR"), "VARCHAR"),
    }
    report = drift(
        {"f1": ["a", "b", "c"], "f2": ["a", "b", "c", "new"]},
        choices,
        {"a": "BIGINT", "b": "BOOLEAN", "c": "DOUBLE", "gone": "DATE"},
        {"gone": "DATE"},
        set(),
    )
    assert report == {
        "new_columns": ["new"],
        "missing_columns": ["gone"],
        # c's integers fit its DOUBLE: not a change worth reporting
        "retyped_columns": {
            "b": {
                "committed": "BOOLEAN",
                "inferred": "VARCHAR",
                "written": "BOOLEAN",
                "action": "kept",
            }
        },
        "files": {"f1": {"missing": ["new"]}},
    }


@pytest.mark.parametrize(
    ("fmt", "text", "matches"),
    [
        ("%d.%m.%Y", "5.1.2024", True),
        ("%d.%m.%Y", "2024-01-05", False),
        ("%Y/%m/%d", "2024/01/05", True),
        ("%d-%m-%Y", "05-01-2024", True),
    ],
)
def test_format_regex_gates_strptime(fmt: str, text: str, matches: bool) -> None:
    import re

    assert (re.fullmatch(format_regex(fmt), text) is not None) is matches


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("256MB", 256_000_000),
        ("1GB", 10**9),
        ("2GiB", 2 * 1024**3),
        ("512 KiB", 524288),
        ("512Mi", 512 * 1024**2),
        ("1048576", 1048576),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "80%", "-1", "1GB; x"])
def test_parse_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_json_object_limit_follows_the_memory_limit() -> None:
    assert max_json_object("256MB") == 16_000_000
    assert max_json_object("8GB") == 64 * 1024 * 1024
    assert max_json_object("64MB") == 8 * 1024 * 1024
    assert max_json_object("80%") == 64 * 1024 * 1024
