"""The sandbox's small pure parts: byte-correct tokens, deep JSON, sizes and caps, messages."""

from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bucketpipe.config.errors import ConfigError, QueryRefused
from bucketpipe.config.settings import Settings
from bucketpipe.serve.sandbox import text
from bucketpipe.serve.sandbox.jsontext import loads, loads_iteratively
from bucketpipe.serve.sandbox.limits import RSS_HEADROOM, Limits, parse_bytes
from bucketpipe.serve.sandbox.messages import classify, one_line, scrub


# --- tokens, in bytes ----------------------------------------------------------------------
def test_token_words_survive_non_ascii_comments() -> None:
    sql = "/* " + "é" * 50 + " */ EXPLAIN /* 日本 */ ANALYZE SELECT 1"
    words = [t.word for t in text.tokens(sql)]
    assert words == ["explain", "analyze", "select", "1"]


def test_statements_split_on_real_semicolons_only() -> None:
    script = "SELECT ';' AS a; /* ; é */ SELECT $$;$$ -- ;\n; SELECT \"x;\" FROM t;\n\n;"
    assert text.split_statements(script) == [
        "SELECT ';' AS a",
        "/* ; é */ SELECT $$;$$ -- ;",
        'SELECT "x;" FROM t',
    ]
    assert text.split_statements("SELECT 1") == ["SELECT 1"]
    assert text.split_statements(" ;; -- nothing\n") == []


def test_a_statement_is_complete_at_its_semicolon() -> None:
    assert text.is_complete("SELECT 1;")
    assert text.is_complete("SELECT 'é';  -- done")
    assert not text.is_complete("SELECT ';'")
    assert not text.is_complete("SELECT 1 /* ; */")


def test_explain_is_taken_apart_on_bytes() -> None:
    parts = text.explain_parts("/* éé */ EXPLAIN /* ü */ SELECT 'ä'")
    assert parts is not None and parts.query == "SELECT 'ä'"
    assert text.explain_parts("SELECT 1") is None
    with pytest.raises(QueryRefused, match="EXPLAIN options"):
        text.explain_parts("EXPLAIN (FORMAT /* ééé */ json) SELECT 1")


def test_positions_are_counted_in_characters() -> None:
    assert text.line_and_column("ab\ncdé\nf", 7) == (3, 1)
    assert text.chars_before("éé x", 5) == 3


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    prefix=st.text(max_size=30).filter(lambda s: "\x00" not in s),
    word=st.sampled_from(["SELECT", "EXPLAIN", "COPY", "PRAGMA"]),
)
def test_leading_keyword_whatever_comment_precedes_it(prefix: str, word: str) -> None:
    comment = "/* " + prefix.replace("*/", "").replace("/*", "") + " */ "
    try:
        comment.encode()
    except UnicodeEncodeError:
        return
    assert text.leading_keyword(comment + word + " 1") == word


def test_text_that_cannot_be_a_statement_is_refused() -> None:
    for bad, words in (("SELECT 1\x00", "NUL"), ("SELECT '\udc80'", "surrogate")):
        with pytest.raises(QueryRefused, match=words):
            text.check_text(bad)


# --- JSON of any depth ---------------------------------------------------------------------
def test_deep_json_decodes_without_recursion() -> None:
    deep = '{"a": ' * 50_000 + '[1, 2.5e3, true, null, "x\\u00e9"]' + "}" * 50_000
    value = loads(deep)
    for _ in range(50_000):
        value = value["a"]
    assert value == [1, 2500.0, True, None, "xé"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(value=json_values)
def test_the_iterative_decoder_agrees_with_json(value: object) -> None:
    encoded = json.dumps(value)
    assert loads_iteratively(encoded) == json.loads(encoded)


# --- sizes and caps ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("1GB", 10**9),
        ("1GiB", 2**30),
        ("512MB", 512 * 10**6),
        ("1.5GiB", 3 * 2**29),
        ("100000", 100_000),
        ("2 gib", 2 * 2**30),
        ("64KiB", 65_536),
    ],
)
def test_sizes_parse_like_duckdb(size: str, expected: int) -> None:
    assert parse_bytes(size) == expected


def test_a_size_that_is_no_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_bytes("lots")


def test_callers_can_ask_for_less_never_more() -> None:
    limits = Limits.from_settings(
        Settings(sql_max_rows=100, sql_timeout_seconds=5, duckdb_memory_limit="1GB")
    )
    assert limits.rss_cap == 10**9 + RSS_HEADROOM
    assert (limits.rows(None), limits.rows(10), limits.rows(10**9), limits.rows(0)) == (
        100,
        10,
        100,
        100,
    )
    assert (limits.seconds(None), limits.seconds(1.0), limits.seconds(3600)) == (5, 1.0, 5)


# --- messages ------------------------------------------------------------------------------
def test_messages_lose_paths_urls_and_needles() -> None:
    message = (
        "IO Error: No files found that match the pattern "
        '"s3://lake-bucket/prefix/clean/quotes/dt=2026-01-01/x.parquet" at '
        "http://127.0.0.1:9000/lake-bucket/prefix/clean and /srv/lake/clean/quotes/f.parquet "
        "with key AKIA-SECRET-VALUE"
    )
    clean = scrub(message, ["AKIA-SECRET-VALUE", "lake-bucket/prefix"])
    for gone in ("lake-bucket", "/srv/lake", "AKIA", "127.0.0.1"):
        assert gone not in clean
    assert scrub("a / b and 1/2", []) == "a / b and 1/2"


def test_engine_errors_become_one_line_by_class() -> None:
    exc = duckdb.CatalogException(
        'Catalog Error: Table with name qoutes does not exist!\nDid you mean "quotes"?\n\n'
        "LINE 1: SELECT * FROM qoutes\n                      ^"
    )
    assert (
        one_line(exc)
        == 'Catalog Error: Table with name qoutes does not exist! Did you mean "quotes"?'
    )
    assert classify(duckdb.OutOfMemoryException("x"), [], "1GB").kind == "memory"
    assert classify(duckdb.PermissionException("x"), [], "1GB").kind == "refused"
    assert classify(duckdb.InternalException("x"), [], "1GB").kind == "crash"
    io = classify(duckdb.IOException("IO Error: s3://bucket/x 403"), [], "1GB")
    assert io.kind == "error" and "bucket" not in io.message
    assert classify(OSError("INTERNAL Error: boom"), [], "1GB").kind == "crash"
