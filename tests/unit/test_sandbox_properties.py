"""Property tests of the validator: comments, Unicode, whitespace, case and quoting anywhere
never change its verdict on a dangerous construct (refused) or an ordinary one (allowed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bucketpipe.config.errors import QueryRefused
from bucketpipe.serve.sandbox.validator import Validator


@dataclass(frozen=True)
class K:
    """A keyword: any case."""

    text: str


@dataclass(frozen=True)
class N:
    """A name (function, table, column): any case, optionally double-quoted."""

    text: str


Part = K | N | str  # a plain string is a literal or punctuation, kept as it is

SECRET = "'s3_secret_access_key'"
DANGEROUS: list[list[Part]] = [
    [K("SELECT"), N("current_setting"), "(", SECRET, ")"],
    [K("SELECT"), N("upper"), "(", N("current_setting"), "(", SECRET, ")", ")"],
    [K("SELECT"), "*", K("FROM"), N("duckdb_secrets"), "(", ")"],
    [K("SELECT"), "*", K("FROM"), N("duckdb_settings"), "(", ")"],
    [K("SELECT"), "*", K("FROM"), N("pg_settings")],
    [K("SELECT"), "*", K("FROM"), N("pg_catalog"), ".", N("pg_settings")],
    [K("SELECT"), "*", K("FROM"), N("read_text"), "(", "'/etc/passwd'", ")"],
    [K("SELECT"), "*", K("FROM"), "'/etc/passwd'"],
    [K("SELECT"), "*", K("FROM"), N("glob"), "(", "'/*'", ")"],
    [K("SELECT"), N("getvariable"), "(", "'lake_0'", ")"],
    [K("SELECT"), "*", K("FROM"), N("query"), "(", "'SELECT 1'", ")"],
    [K("SELECT"), "*", K("FROM"), N("enable_logging"), "(", ")"],
    [K("WITH"), N("x"), K("AS"), "(", K("SELECT"), N("current_setting"), "(", SECRET, ")"]
    + [K("AS"), N("s"), ")", K("SELECT"), "*", K("FROM"), N("quotes"), ",", N("x")],
    [K("SELECT"), "*", K("FROM"), N("quotes"), K("WHERE"), N("symbol"), "="]
    + [N("current_setting"), "(", SECRET, ")"],
    [K("EXPLAIN"), K("ANALYZE"), K("SELECT"), "*", K("FROM"), N("quotes")],
    [K("EXPLAIN"), "(", K("FORMAT"), N("json"), ")", K("SELECT"), "1"],
    [K("EXPLAIN"), K("SELECT"), N("current_setting"), "(", SECRET, ")"],
    [K("COPY"), N("quotes"), K("TO"), "'/tmp/x.csv'"],
    [K("ATTACH"), "'/tmp/x.db'", K("AS"), N("y")],
    [K("PRAGMA"), N("version")],
    [K("SET"), N("threads"), "=", "1"],
    [K("INSTALL"), N("spatial")],
    [K("SELECT"), "1", ";", K("SET"), N("lock_configuration"), "=", K("false")],
]
ORDINARY: list[list[Part]] = [
    [K("SELECT"), N("symbol"), ",", N("avg"), "(", N("price"), ")", K("FROM"), N("quotes")]
    + [K("GROUP"), K("BY"), N("symbol")],
    [K("SELECT"), N("upper"), "(", N("symbol"), ")", K("FROM"), N("quotes")]
    + [K("WHERE"), N("price"), ">", "1"],
    [K("WITH"), N("t"), K("AS"), "(", K("SELECT"), "1", K("AS"), N("x"), ")"]
    + [K("SELECT"), N("x"), K("FROM"), N("t")],
    [K("EXPLAIN"), K("SELECT"), "*", K("FROM"), N("quotes")],
    [K("SELECT"), N("row_number"), "(", ")", K("OVER"), "(", K("PARTITION"), K("BY")]
    + [N("symbol"), K("ORDER"), K("BY"), N("ts"), ")", K("FROM"), N("quotes")],
    [K("DESCRIBE"), N("quotes")],
    [K("SUMMARIZE"), N("quotes")],
    [K("SHOW"), K("TABLES")],
    [K("SELECT"), "'é ✓ 日本'", K("AS"), N("greeting")],
]

WHITESPACE = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\f"])
NOTE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=16,
)
BLOCK = NOTE.map(lambda t: "/*" + t.replace("*", "").replace("/", "") + "*/")
LINE = NOTE.map(lambda t: "--" + t.replace("\n", "").replace("\r", "") + "\n")
SEPARATOR = st.lists(st.one_of(WHITESPACE, BLOCK, LINE), min_size=1, max_size=3).map("".join)


@st.composite
def decorated(draw: st.DrawFn, parts: list[Part]) -> str:
    """The statement with random case, quoting, whitespace and comments between its tokens."""
    out = [draw(SEPARATOR) if draw(st.booleans()) else ""]
    for part in parts:
        if isinstance(part, K | N):
            mask = draw(st.integers(0, 2 ** len(part.text) - 1))
            word = "".join(
                c.upper() if mask >> i & 1 else c.lower() for i, c in enumerate(part.text)
            )
            if isinstance(part, N) and draw(st.booleans()):
                word = f'"{word}"'
            out.append(word)
        else:
            out.append(part)
        out.append(draw(SEPARATOR))
    return "".join(out)


def plain(parts: list[Part]) -> str:
    return " ".join(p.text if isinstance(p, K | N) else p for p in parts)


@pytest.fixture(scope="module")
def validator() -> Iterator[Validator]:
    box = Validator(["quotes"])
    yield box
    box.close()


def verdict(validator: Validator, sql: str) -> str:
    try:
        validator.check(sql)
    except QueryRefused:
        return "refused"
    return "allowed"


def _settings(request: pytest.FixtureRequest) -> settings:
    return settings(
        max_examples=300 if request.config.getoption("--long") else 40,
        deadline=None,
        derandomize=not request.config.getoption("--long"),
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.mark.parametrize("parts", DANGEROUS, ids=plain)
def test_dangerous_constructs_stay_refused(
    request: pytest.FixtureRequest, validator: Validator, parts: list[Part]
) -> None:
    assert verdict(validator, plain(parts)) == "refused"

    @_settings(request)
    @given(sql=decorated(parts))
    def check(sql: str) -> None:
        assert verdict(validator, sql) == "refused", sql

    check()


@pytest.mark.parametrize("parts", ORDINARY, ids=plain)
def test_ordinary_constructs_stay_allowed(
    request: pytest.FixtureRequest, validator: Validator, parts: list[Part]
) -> None:
    assert verdict(validator, plain(parts)) == "allowed"

    @_settings(request)
    @given(sql=decorated(parts))
    def check(sql: str) -> None:
        assert verdict(validator, sql) == "allowed", sql

    check()
