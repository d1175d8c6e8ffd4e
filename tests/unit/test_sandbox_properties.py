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


def parts(template: str) -> list[Part]:
    """`SELECT @upper ( @symbol )`: upper-case words are keywords, `@x` names, the rest as is."""
    out: list[Part] = []
    for token in template.split():
        if token.startswith("@"):
            out.append(N(token[1:]))
        elif token.isalpha() and token.isupper():
            out.append(K(token))
        else:
            out.append(token)
    return out


SECRET = "'s3_secret_access_key'"
DANGEROUS = [
    parts(t.replace("SECRET", SECRET))
    for t in (
        "SELECT @current_setting ( SECRET )",
        "SELECT @upper ( @current_setting ( SECRET ) )",
        "SELECT * FROM @duckdb_secrets ( )",
        "SELECT * FROM @duckdb_settings ( )",
        "SELECT * FROM @pg_settings",
        "SELECT * FROM @pg_catalog . @pg_settings",
        "SELECT * FROM @read_text ( '/etc/passwd' )",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM @glob ( '/*' )",
        "SELECT @getvariable ( 'lake_0' )",
        "SELECT * FROM @query ( 'SELECT 1' )",
        "SELECT * FROM @enable_logging ( )",
        "WITH @x AS ( SELECT @current_setting ( SECRET ) AS @s ) SELECT * FROM @quotes , @x",
        "SELECT * FROM @quotes WHERE @symbol = @current_setting ( SECRET )",
        "EXPLAIN ANALYZE SELECT * FROM @quotes",
        "EXPLAIN ( FORMAT @json ) SELECT 1",
        "EXPLAIN SELECT @current_setting ( SECRET )",
        "COPY @quotes TO '/tmp/x.csv'",
        "ATTACH '/tmp/x.db' AS @y",
        "PRAGMA @version",
        "SET @threads = 1",
        "INSTALL @spatial",
        "SELECT 1 ; SET @lock_configuration = FALSE",
    )
]
ORDINARY = [
    parts(t)
    for t in (
        "SELECT @symbol , @avg ( @price ) FROM @quotes GROUP BY @symbol",
        "SELECT @upper ( @symbol ) FROM @quotes WHERE @price > 1",
        "WITH @t AS ( SELECT 1 AS @x ) SELECT @x FROM @t",
        "EXPLAIN SELECT * FROM @quotes",
        "SELECT @row_number ( ) OVER ( PARTITION BY @symbol ORDER BY @ts ) FROM @quotes",
        "DESCRIBE @quotes",
        "SUMMARIZE @quotes",
        "SHOW TABLES",
        "SELECT 'é✓日本' AS @greeting",
    )
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
