"""Type inference: strict parsing, shares, decimal commas, committed types, widening."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import pytest

from bucketpipe.catalog.rules import DatasetRules
from bucketpipe.clean import inference
from bucketpipe.clean.inference import (
    ColumnStats,
    choose_type,
    collect_stats,
    decimal_marks,
    infer_type,
    parser_for,
)
from bucketpipe.clean.parsing import Decimal, Parser, canonical_type, number_text
from bucketpipe.lake.duck import quote_literal

RULES = DatasetRules()


def _stats(values: list[str | None], rules: DatasetRules = RULES) -> ColumnStats:
    con = duckdb.connect()
    rows = ", ".join(f"({quote_literal(v) if v is not None else 'NULL'})" for v in values)
    con.execute(
        "CREATE TABLE t AS SELECT CAST(c AS VARCHAR) AS c, 'f.csv' AS _source_file "
        f"FROM (VALUES {rows}) AS v(c)"
    )
    return collect_stats(con, "t", ["c"], rules)["c"]


def _parse(parser: Parser, value: str, rules: DatasetRules = RULES) -> object:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE t AS SELECT {quote_literal(value)} AS c")
    row = con.execute(f"SELECT {parser.sql('c', rules)} FROM t").fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2", "-3", None], "BIGINT"),
        (["1", "2.5", "3"], "DOUBLE"),
        (["1,234.5", "$12", "7 %"], "DOUBLE"),
        (["12,5", "7,25", "3"], "DOUBLE"),  # decimal commas
        (["007", "008", "010"], "VARCHAR"),  # leading zeros: codes, not numbers
        (["12345678901234567", "1"], "VARCHAR"),  # 17 digits: ids DOUBLE would round
        (["yes", "No", "TRUE", "f"], "BOOLEAN"),
        (["1", "0", "1"], "BIGINT"),  # 0/1 stay numbers
        (["2024-01-05", "2024-12-31"], "DATE"),
        (["05.01.2024", "31.12.2024"], "DATE"),
        (["2024-01-05 10:00", "2024-01-06T11:30:15", "2024-01-07"], "TIMESTAMP"),
        (["2024-01-05T10:00:00Z", "2024-01-06T10:00:00+02:00"], "TIMESTAMPTZ"),
        (["0x1F", "1e3", "1_000"], "VARCHAR"),  # DuckDB casts these; we do not
        (["a", "b"], "VARCHAR"),
        ([None, None], "VARCHAR"),
    ],
)
def test_infer_type(values: list[str | None], expected: str) -> None:
    assert infer_type(_stats(values), RULES) == expected


def test_share_threshold_decides() -> None:
    values = [str(i) for i in range(9)] + ["n/a?"]
    assert infer_type(_stats(values), RULES) == "BIGINT"  # 9 of 10 = 90%
    strict = DatasetRules(infer_share=0.95)
    assert infer_type(_stats(values, strict), strict) == "VARCHAR"


def test_day_first_wins_a_tie_and_month_first_when_it_parses_more() -> None:
    tie = _stats(["01/02/2024", "03/04/2024"])
    assert choose_type(tie, RULES, committed=None, pinned=None).parser.date_format == "%d/%m/%Y"
    us = _stats(["01/13/2024", "12/31/2024", "02/03/2024"])
    assert choose_type(us, RULES, committed=None, pinned=None).parser.date_format == "%m/%d/%Y"


@pytest.mark.parametrize(
    ("parser", "text", "expected"),
    [
        (Parser("BIGINT"), " 1,234 ", 1234),
        (Parser("BIGINT"), "12.0", None),
        (Parser("BIGINT", decimal=Decimal(",")), "1.234", 1234),
        (Parser("DOUBLE"), "$1,234.50", 1234.5),
        (Parser("DOUBLE", decimal=Decimal(",")), "1 234,50 €", 1234.5),
        (Parser("DOUBLE"), "12 kg", None),
        (Parser("DOUBLE"), "inf", None),
        (Parser("BOOLEAN"), "Yes", True),
        (Parser("BOOLEAN"), "maybe", None),
        (Parser("DATE"), "2024-02-30", None),
        (Parser("DATE", date_format="%d.%m.%Y"), "2024-01-05", dt.date(2024, 1, 5)),
        (Parser("DATE", date_format="%d.%m.%Y"), "5.1.2024", dt.date(2024, 1, 5)),
        (Parser("TIMESTAMP"), "2024-01-05 10:00", dt.datetime(2024, 1, 5, 10, 0)),
        (
            Parser("TIMESTAMP", date_format="%d.%m.%Y"),
            "05.01.2024 10:30",
            dt.datetime(2024, 1, 5, 10, 30),
        ),
        (
            Parser("TIMESTAMPTZ"),
            "2024-01-05T10:00:00+02:00",
            dt.datetime(2024, 1, 5, 8, 0, tzinfo=dt.UTC),
        ),
        (Parser("VARCHAR"), "as is", "as is"),
    ],
)
def test_parsers(parser: Parser, text: str, expected: object) -> None:
    assert _parse(parser, text) == expected


def test_number_text_is_plain_sql() -> None:
    sql = number_text('"c"', ".")
    assert sql.startswith("CASE WHEN contains(") and "regexp_full_match(regexp_replace(" in sql


def test_committed_type_is_kept_and_values_that_do_not_fit_are_invalid() -> None:
    stats = _stats(["1", "two", "three"])
    choice = choose_type(stats, RULES, committed="BIGINT", pinned=None)
    assert (choice.type, choice.inferred, choice.action) == ("BIGINT", "VARCHAR", "kept")


def test_widening_is_allowed_only_when_configured() -> None:
    stats = _stats(["1.5", "2"])
    assert choose_type(stats, RULES, committed="BIGINT", pinned=None).action == "widened"
    narrow = DatasetRules(widen=False)
    kept = choose_type(stats, narrow, committed="BIGINT", pinned=None)
    assert (kept.type, kept.action) == ("BIGINT", "kept")


def test_pinned_type_wins() -> None:
    choice = choose_type(_stats(["1", "2"]), RULES, committed="BIGINT", pinned="VARCHAR")
    assert (choice.type, choice.action) == ("VARCHAR", "pinned")


@pytest.mark.parametrize(
    ("duck", "ours"),
    [
        ("INTEGER", "BIGINT"),
        ("DECIMAL(18,3)", "DOUBLE"),
        ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"),
        ("DATE", "DATE"),
        ("JSON", "VARCHAR"),
    ],
)
def test_canonical_type(duck: str, ours: str) -> None:
    assert canonical_type(duck) == ours


def test_decimal_mark_is_decided_per_file() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('fi.csv', '12,5'), ('fi.csv', '7'), "
        "('us.json', '10.5'), ('us.json', '1,234')) AS v(_source_file, c)"
    )
    stats = collect_stats(con, "t", ["c"], RULES)["c"]
    assert stats.decimal_mark == Decimal(".", ("fi.csv",))
    choice = choose_type(stats, RULES, committed=None, pinned=None)
    assert choice.type == "DOUBLE"
    values = con.execute(f"SELECT {choice.parser.sql('c', RULES)} FROM t").fetchall()
    assert [v for (v,) in values] == [12.5, 7.0, 10.5, 1234.0]


def test_iso_dates_mix_with_the_chosen_format() -> None:
    stats = _stats(["05.01.2024", "06.01.2024", "2024-02-01"])
    assert infer_type(stats, RULES) == "DATE"


def test_decimal_comma_is_decided_per_file() -> None:
    """A file reads decimal commas when it shows one somewhere and a decimal point nowhere; a
    file with both, or with neither, keeps the point."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES "
        "('fi.csv', '12,5', 'a'), ('fi.csv', '7', '1 000,25'), "  # commas only: comma
        "('us.csv', '1,234', '2.5'), ('us.csv', '3,5', 'x'), "  # a point too: point
        "('plain.csv', '12', 'b'), ('plain.csv', '1,000', 'c'), "  # groups, no decimal: point
        "('names.csv', 'Smith, J.', 'Oy, Ab')"  # commas in text are no evidence
        ") AS v(_source_file, amount, note)"
    )
    assert decimal_marks(con, "t", ["amount", "note"], RULES) == Decimal(".", ("fi.csv",))
    none = duckdb.connect()
    none.execute("CREATE TABLE t AS SELECT 'a.csv' AS _source_file, '1.5' AS amount")
    assert decimal_marks(none, "t", ["amount"], RULES) == Decimal()
    assert decimal_marks(con, "t", ["amount"], DatasetRules(decimal=",")) == Decimal(",")


def _parse_column(parser: Parser, values: list[str | None]) -> list[object]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = ", ".join(
        f"({i}, {quote_literal(v) if v is not None else 'NULL'})" for i, v in enumerate(values)
    )
    con.execute(
        f"CREATE TABLE t AS SELECT i, CAST(c AS VARCHAR) AS c FROM (VALUES {rows}) AS v(i, c)"
    )
    return [
        v for (v,) in con.execute(f"SELECT {parser.sql('c', RULES)} FROM t ORDER BY i").fetchall()
    ]


@pytest.mark.parametrize(
    ("values", "type_name", "raw"),
    [
        (["1", "-2", "+3", None, "007"], "BIGINT", True),
        (["1.5", "2e3", ".5", "-0.25", "1e400"], "DOUBLE", True),
        (["1", "2"], "DOUBLE", True),
        (["1.5", "2"], "BIGINT", False),  # a committed BIGINT: 1.5 does not fit
        (["1,234", "5"], "BIGINT", False),  # a thousands mark to clean
        (["$12.50", "3"], "DOUBLE", False),  # noise to clean
        (["12 kg", "3"], "DOUBLE", False),
        (["inf", "1"], "DOUBLE", False),
        (["0x1F", "10"], "BIGINT", False),
        (["2024-01-05", "2024-12-31", None], "DATE", True),
        (["2024-01-05", "2024-02-30"], "DATE", False),  # no such day
        (["2024-01-05", "05.01.2024"], "DATE", False),  # another format beside ISO
        (["2024-01-05 10:00", "2024-01-06T11:30:15"], "TIMESTAMP", True),
        (["2024-01-05T10:00:00Z", "2024-01-06 10:00:00+02:00"], "TIMESTAMPTZ", True),
        (["2024-01-05 10:00", "yesterday"], "TIMESTAMP", False),
        (["2024-01-05 10:00", "2024-01-05"], "DATE", False),
    ],
)
def test_a_column_cast_as_it_stands_parses_as_the_full_test_does(
    values: list[str | None], type_name: str, raw: bool
) -> None:
    """The cast without the pattern test is taken only when the counts show every value passes
    it as it stands, and then gives exactly what the full test gives."""
    parser = parser_for(type_name, _stats(values))
    assert parser.raw is raw
    full = dataclasses.replace(parser, raw=False)
    assert _parse_column(parser, values) == _parse_column(full, values)


def test_tokens_that_start_with_a_digit_are_still_counted() -> None:
    """Values starting with a digit skip the boolean test only while no token starts with one."""
    rules = DatasetRules(true_tokens=("1", "yes"), false_tokens=("0", "no"))
    stats = _stats(["1", "0", "yes", "1"], rules)
    assert stats.boolean == 4 and infer_type(stats, rules) == "BOOLEAN"
    assert _stats(["1", "0", "yes", "1"]).boolean == 1  # the default tokens have no digit


# Every kind of value the counts tell apart, each repeated: NULLs, booleans, integers with and
# without noise, leading zeros, long digits, decimals, thousands marks, ISO and other dates,
# time zones, text. A column of these has few distinct values against its rows.
MIXED = [
    None, "yes", "No", "1", "-3", " 42 ", "$1,234.50", "7 %", "007", "12345678901234567",
    "2.5", "1e3", "0x1F", "2024-01-05", "05.01.2024", "2024-01-05 10:00", "2024-01-05T10:00Z",
    "2024-01-06T10:00:00+02:00", "31/12/2024", "abc", "", "1_000", "+.5",
]  # fmt: skip


@pytest.mark.parametrize("mostly", [None, "12", "2024-03-01", "3.25", "true"])
def test_counts_over_distinct_values_equal_counts_over_every_row(
    monkeypatch: pytest.MonkeyPatch, mostly: str | None
) -> None:
    """A column of few distinct values is counted over them, each weighted by its rows: every
    count equals the one over every row, whatever the values and the type they decide."""
    con = duckdb.connect()
    listed = ", ".join("NULL" if v is None else quote_literal(v) for v in MIXED)
    fill = "NULL" if mostly is None else quote_literal(mostly)
    con.execute(
        f"CREATE TABLE t AS SELECT CASE WHEN i % 10 < 3 THEN ([{listed}])[1 + i % {len(MIXED)}] "
        f"ELSE {fill} END AS few, CAST(i AS VARCHAR) AS many, 'f.csv' AS _source_file "
        "FROM range(120000) AS r(i)"
    )
    assert inference.few_distinct(con, "t", ["few", "many"]) == {"few"}
    grouped = collect_stats(con, "t", ["few", "many"], RULES)
    monkeypatch.setattr(inference, "GROUPED_MIN_ROWS", 10**12)
    assert inference.few_distinct(con, "t", ["few", "many"]) == set()
    every_row = collect_stats(con, "t", ["few", "many"], RULES)
    assert grouped == every_row
    assert grouped["few"].non_null > 0 and grouped["few"].rows == 120000


def test_a_file_with_decimal_commas_is_counted_row_by_row() -> None:
    """A decimal comma is decided per file, so a value's number text depends on its row's
    file: such a batch is never counted over distinct values (`12,5` is 12.5 in one file and
    125 in another)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT CASE WHEN i % 2 = 0 THEN 'fi.csv' ELSE 'us.csv' END "
        "AS _source_file, CASE WHEN i % 2 = 0 THEN '12,5' ELSE '1,250' END AS c "
        "FROM range(120000) AS r(i)"
    )
    stats = collect_stats(con, "t", ["c"], RULES)["c"]
    assert stats.decimal_mark == Decimal(".", ("fi.csv",))
    assert stats.decimal == 120000 and stats.integer == 60000
