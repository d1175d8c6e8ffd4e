"""The first wall: the parse-tree validator and its allowlists, on the attack and legit corpora."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from bucketpipe.config.errors import QueryRefused
from bucketpipe.serve.queries import examples
from bucketpipe.serve.sandbox import policy
from bucketpipe.serve.sandbox.validator import Validator
from tests.support.sql_corpus import ATTACKS, LEGIT, by_kind

VIEWS = sorted({"quotes", "company_profiles"} | {n for e in examples.EXAMPLES for n in e.needs})
PATHS = {
    "orphan": "s3://lake/lake/clean/quotes/dt=2026-01-01/orphan.parquet",
    "raw": "s3://lake/lake/raw/demo/dt=2026-01-01/i1.jsonl.gz",
    "manifest": "s3://lake/lake/_runs/clean/c1.json",
    "other": "s3://other-bucket/x.parquet",
    "lake": "s3://lake/lake",
}
REFUSED = [a for a in ATTACKS if a.expect == "refused"]


def fill(sql: str) -> str:
    for name, value in PATHS.items():
        sql = sql.replace("{" + name + "}", value)
    return sql


@pytest.fixture(scope="module")
def validator() -> Iterator[Validator]:
    box = Validator(VIEWS)
    yield box
    box.close()


def refusal(validator: Validator, sql: str) -> str:
    with pytest.raises(QueryRefused) as refused:
        validator.check(sql)
    message = str(refused.value)
    assert message.strip() and "\n" not in message and "Traceback" not in message
    return message


def test_the_corpora_are_large_and_cover_every_class() -> None:
    assert len(ATTACKS) >= 150
    assert len(LEGIT) >= 50
    assert len(by_kind()) >= 13 and min(by_kind().values()) >= 10


@pytest.mark.parametrize("attack", REFUSED, ids=lambda a: f"{a.kind}: {a.sql[:60]}")
def test_attacks_are_refused(validator: Validator, attack: object) -> None:
    refusal(validator, fill(attack.sql))  # type: ignore[attr-defined]


@pytest.mark.parametrize("sql", LEGIT, ids=lambda s: s[:60])
def test_ordinary_sql_passes(validator: Validator, sql: str) -> None:
    checked = validator.check(sql)
    assert checked.sql


@pytest.mark.parametrize("example", examples.EXAMPLES, ids=lambda e: e.title)
def test_every_example_query_passes(validator: Validator, example: examples.Example) -> None:
    assert validator.check(example.sql).sql


def test_the_text_that_runs_is_the_text_that_was_judged(validator: Validator) -> None:
    sql = "  /* é */ SELECT symbol -- ü\nFROM quotes;  "
    assert validator.check(sql).sql == sql.strip()
    explain = validator.check("/* éé */ EXPLAIN /* ü */ SELECT 1;")
    assert explain.explain and explain.sql == "EXPLAIN SELECT 1"


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT 1", set()),
        ("SHOW TABLES", set()),
        ("SELECT * FROM duckdb_columns() WHERE table_name = 'quotes'", set()),
        ("SELECT * FROM information_schema.tables", set()),
        ("FROM Quotes", {"quotes"}),
        ("DESCRIBE quotes", {"quotes"}),
        ("SUMMARIZE memory.main.daily_bars", {"daily_bars"}),
        ("EXPLAIN SELECT * FROM quotes JOIN daily_bars USING (symbol)", {"quotes", "daily_bars"}),
        ("SELECT (SELECT max(price) FROM quotes) FROM range(3)", {"quotes"}),
        # A CTE of a dataset's name: the dataset counts as named (reading one more is harmless).
        ("WITH quotes AS (SELECT 1 AS x) SELECT * FROM quotes", {"quotes"}),
        ("WITH q AS (FROM daily_bars) FROM q", {"daily_bars"}),
    ],
)
def test_a_checked_query_names_the_datasets_it_reads(
    validator: Validator, sql: str, named: set[str]
) -> None:
    assert validator.check(sql).datasets == frozenset(named)


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "reads files or URLs"),
        ("SELECT * FROM '/etc/passwd'", "reading files or URLs directly"),
        ("COPY quotes TO '/tmp/x.csv'", "COPY statements are not allowed"),
        ("SET threads = 1", "SET statements are not allowed"),
        ("SELECT * FROM qoutes", 'Did you mean "quotes"?'),
        ("SELECT 1; SELECT 2", "one statement at a time (found 2"),
        ("SELECT current_setting('x')", "settings are not available"),
        ("SELECT * FROM duckdb_secrets()", "secrets are not available"),
        ("SELECT getenv('HOME')", "environment variables are not available"),
        ("EXPLAIN ANALYZE SELECT 1", "use EXPLAIN"),
        ("EXPLAIN (FORMAT json) SELECT 1", "EXPLAIN options"),
        ("PIVOT quotes ON symbol USING avg(price)", "IN list"),
        ("WITH pg_settings AS (SELECT 1) SELECT 1", "reserved"),
        ("SELECT * FROM other_db.main.t", "other databases"),
        ("SELECT $1", "parameters"),
        ("", "empty"),
        (";", "empty"),
        ("SELECT 1\x00", "NUL"),
        ("SELECT '\ud800'", "surrogate"),
        ("SELECT 'x" + "x" * 100_000, "longer than"),
    ],
)
def test_refusals_say_why_in_one_line(validator: Validator, sql: str, words: str) -> None:
    assert words in refusal(validator, sql)


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("SELEC 1", "(line 1, column 1)"),
        ("SELECT 'é', (", "(line 1, column 14)"),
        ("/* ééé */\nSELECT 1 FROM FROM quotes", "(line 2, column 15)"),
        ("EXPLAIN /* éé */ SELECT FROM FROM", "(line 1, column 30)"),
    ],
)
def test_syntax_errors_name_their_position_in_characters(
    validator: Validator, sql: str, where: str
) -> None:
    message = refusal(validator, sql)
    assert message.startswith("syntax error") and message.endswith(where), message


def test_deep_expressions_are_walked_without_recursion(validator: Validator) -> None:
    validator.check("SELECT " + " + ".join(["1"] * 990))
    validator.check("SELECT " + " || ".join(["symbol"] * 990) + " FROM quotes")
    message = refusal(validator, "SELECT " + " + ".join(["1"] * 2000))
    assert "1,000 levels" in message
    refusal(validator, "SELECT " + "(" * 50_000 + "1" + ")" * 50_000)


def test_a_cte_cannot_open_a_path_to_a_system_view(validator: Validator) -> None:
    validator.check("WITH t AS (SELECT 1) SELECT * FROM t, (WITH u AS (SELECT 2) SELECT * FROM u)")
    refusal(validator, 'WITH "duckdb_settings" AS (SELECT 1) SELECT 1')
    refusal(validator, "SELECT * FROM (WITH x AS (SELECT 1) SELECT 1), pg_settings")


def test_function_allowlist_names_real_functions_and_nothing_stateful() -> None:
    con = duckdb.connect()
    rows = con.execute(
        "SELECT DISTINCT lower(function_name), function_type, has_side_effects "
        "FROM duckdb_functions()"
    ).fetchall()
    known = {name for name, _, _ in rows}
    for category, names in policy.CATEGORIES.items():
        assert names <= known, (category, sorted(names - known))
    assert known >= policy.TABLE_FUNCTIONS
    allowed = policy.allowed_functions()
    assert not allowed & set(policy.REASONS)
    for name in ("current_setting", "getvariable", "setseed", "nextval", "read_text", "query"):
        assert name not in allowed
    volatile = {name for name, _, side_effects in rows if side_effects} & allowed
    assert volatile <= {"random", "uuid", "gen_random_uuid", "uuidv4", "uuidv7"}, volatile
