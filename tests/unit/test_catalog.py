"""The catalog: declared datasets turn raw lines into typed rows and quarantine reasons."""

import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from bucketpipe import catalog
from bucketpipe.catalog import spec
from bucketpipe.catalog.spec import Column, DatasetSpec, Rule

TINY = DatasetSpec(
    name="tiny",
    description="a test dataset",
    endpoints=("thing",),
    columns=(
        Column("id", "BIGINT", "TRY_CAST(item->>'id' AS BIGINT)"),
        Column("at", "TIMESTAMPTZ", "requested_at"),
    ),
    primary_key=("id",),
    time_column="at",
    rules=(Rule("missing id", "id IS NULL"),),
    items="$.data[*]",
)


def test_extract_sql_is_exact() -> None:
    assert TINY.extract_sql("raw") == (
        "SELECT *, CASE\n"
        "    WHEN id IS NULL THEN 'missing id'\n"
        "  END AS _reject_reason\n"
        "FROM (\n"
        "  SELECT\n"
        '    CAST(TRY_CAST(_item_fields."id" AS BIGINT) AS BIGINT) AS "id",\n'
        '    CAST(requested_at AS TIMESTAMPTZ) AS "at",\n'
        "    requested_at AS _fetched_at,\n"
        "    run AS _ingest_run\n"
        '  FROM (SELECT *, json_transform(item, \'{"id":"VARCHAR"}\') AS _item_fields '
        "FROM (SELECT r.*, u.item FROM raw AS r, "
        "unnest(CAST(json_extract(r.body, '$.data[*]') AS JSON[])) AS u(item)) AS lines) AS src\n"
        "  WHERE endpoint IN ('thing') AND status = 200 AND error IS NULL\n"
        ") AS typed"
    )


def test_field_accesses_are_read_with_one_parse_per_source() -> None:
    exprs = [
        "TRY_CAST(item->>'c' AS DOUBLE)",
        "coalesce(item->>'d', item->>'c', params->>'symbol')",
        "json_extract_string(item, '$.metric.x')",  # a path: left alone
        "list_filter(xs, lambda x: x->>'concept' = 'a')[1]->>'value'",  # not a source
        "item->>'$.a.b'",  # a JSONPath: left alone
    ]
    assert spec.fields_read(exprs) == {"item": ["c", "d"], "params": ["symbol"]}
    assert spec.read_fields_once(exprs[1]) == (
        'coalesce(_item_fields."d", _item_fields."c", _params_fields."symbol")'
    )
    for expr in exprs[2:]:
        assert spec.read_fields_once(expr) == expr


@pytest.mark.parametrize(
    "body",
    [
        '{"v": 1.0, "w": "  text ", "n": null, "o": {"a": [1, 2]}, "b": true, "e": 1e400}',
        '{"v": 12345678901234567890, "w": "", "v2": "x"}',
        '{"v": 1, "v": 2}',
        '{"V": 3}',
        "[1, 2]",
        "5",
        '"v"',
        "null",
        "{}",
    ],
)
def test_one_parse_reads_exactly_what_the_arrow_operator_reads(body: str) -> None:
    """`json_transform` to VARCHAR fields stands in for `->>`; any difference would change
    cleaned values, so every JSON shape a field can have is compared."""
    keys = ["v", "w", "n", "o", "b", "e", "missing"]
    arrow = [f"item->>'{k}'" for k in keys]
    once = [spec.read_fields_once(e) for e in arrow]
    parse = spec.parse_fields_sql(spec.fields_read(arrow))
    con = duckdb.connect()
    source = "SELECT CAST(? AS JSON) AS item"
    expected = con.execute(f"SELECT {', '.join(arrow)} FROM ({source})", [body]).fetchone()
    got = con.execute(
        f"SELECT {', '.join(once)} FROM (SELECT *, {parse} FROM ({source}))", [body]
    ).fetchone()
    assert got == expected


@pytest.mark.parametrize(
    "value",
    [
        "12.5",
        "-3",
        "0",
        "1",
        "-0.0",
        "1.0",
        "1e3",
        "1e400",
        "-1e400",
        "1.5e-320",
        "12345678901234567890",
        "true",
        "false",
        "null",
        '"12.5"',
        '" 12 "',
        '""',
        '"abc"',
        '"1e3"',
        '"0x10"',
        '"inf"',
        '"-Infinity"',
        '"NaN"',
        '"1,5"',
        '"1"',
        '"0"',
        '"true"',
        '{"a": 1}',
        "[1, 2]",
        "[]",
        "{}",
    ],
)
def test_a_field_read_only_as_a_number_is_parsed_as_one_with_the_same_result(value: str) -> None:
    """A key read only through `TRY_CAST(item->>'key' AS DOUBLE)` is parsed as DOUBLE in the
    one parse; every JSON value a field can hold gives what the text cast gives."""
    exprs = [
        "TRY_CAST(item->>'v' AS DOUBLE)",
        "TRY_CAST(TRY_CAST(item->>'v' AS DOUBLE) AS BIGINT)",
        "coalesce(TRY_CAST(item->>'w' AS DOUBLE), 0)",
        "item->>'w'",  # `w` is also read as text: it stays text in the parse
    ]
    numbers = spec.number_keys(exprs)
    assert numbers == {"item": {"v"}}
    once = [spec.read_fields_once(e, numbers) for e in exprs]
    parse = spec.parse_fields_sql(spec.fields_read(exprs), numbers)
    assert '"v":"DOUBLE"' in parse and '"w":"VARCHAR"' in parse
    con = duckdb.connect()
    for body in (f'{{"v": {value}, "w": {value}}}', f'{{"w": {value}}}', value):
        source = "SELECT CAST(? AS JSON) AS item"
        expected = con.execute(f"SELECT {', '.join(exprs)} FROM ({source})", [body]).fetchone()
        got = con.execute(
            f"SELECT {', '.join(once)} FROM (SELECT *, {parse} FROM ({source}))", [body]
        ).fetchone()
        assert str(got) == str(expected), body  # str: NaN is not equal to itself


def test_key_columns_must_exist() -> None:
    with pytest.raises(ValueError, match="not columns"):
        DatasetSpec(
            name="bad",
            description="",
            endpoints=("x",),
            columns=(Column("a", "INT", "1"),),
            primary_key=("b",),
            time_column="a",
        )


def test_cluster_columns_must_exist_and_set_the_sort_order() -> None:
    with pytest.raises(ValueError, match="not columns"):
        DatasetSpec(
            name="bad",
            description="",
            endpoints=("x",),
            columns=(Column("a", "INT", "1"),),
            primary_key=("a",),
            time_column="a",
            cluster_by=("b",),
        )
    assert catalog.get("daily_bars").sort_columns == ("symbol", "day")
    assert catalog.get("quotes").sort_columns == ("ts",)


def raw_table(lines: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory `raw` relation shaped like the raw JSON-lines files."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE raw (run VARCHAR, source VARCHAR, endpoint VARCHAR, path VARCHAR, "
        "params JSON, requested_at TIMESTAMPTZ, status INTEGER, error VARCHAR, body JSON)"
    )
    for line in lines:
        con.execute(
            "INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                line.get("run", "r1"),
                "test",
                line["endpoint"],
                None,
                json.dumps(line.get("params", {})),
                line.get("requested_at", datetime(2026, 11, 20, 15, tzinfo=UTC)),
                line.get("status", 200),
                None,
                json.dumps(line["body"]),
            ],
        )
    return con


def rows(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> list[dict[str, Any]]:
    cur = con.execute(spec.extract_sql("raw"))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_items_path_unnests_lists() -> None:
    con = raw_table([{"endpoint": "thing", "body": {"data": [{"id": 1}, {"id": "x"}, {}]}}])
    out = sorted(rows(con, TINY), key=lambda r: (r["id"] is None, r["id"]))
    assert [r["id"] for r in out] == [1, None, None]
    assert [r["_reject_reason"] for r in out] == [None, "missing id", "missing id"]


def quote(symbol: str = "AAPL", **body: Any) -> dict[str, Any]:
    base = {
        "c": 101.0,
        "d": 1.0,
        "dp": 1.0,
        "h": 102.0,
        "l": 99.0,
        "o": 100.0,
        "pc": 100.0,
        "t": 1795186800,
    }
    base.update(body)
    return {"endpoint": "quote", "params": {"symbol": symbol}, "body": base}


def test_quote_is_typed() -> None:
    [row] = rows(raw_table([quote()]), catalog.get("quotes"))
    assert row["symbol"] == "AAPL"
    assert row["ts"] == datetime(2026, 11, 20, 15, tzinfo=UTC)
    assert (row["price"], row["high"], row["low"], row["prev_close"]) == (101.0, 102.0, 99.0, 100.0)
    assert row["_reject_reason"] is None


def test_quote_change_is_computed_when_missing() -> None:
    line = quote(c=103.0, h=104.0)
    del line["body"]["d"], line["body"]["dp"]
    [row] = rows(raw_table([line]), catalog.get("quotes"))
    assert row["change"] == pytest.approx(3.0)
    assert row["change_pct"] == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"c": 0, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}, "unknown symbol: all-zero quote"),
        ({"t": 0}, "missing quote time"),
        ({"c": None}, "missing price"),
        ({"c": -101.0, "h": 0, "l": 0}, "non-positive price"),
        ({"c": 10100.0}, "price outside the day's range"),
        ({"c": 300.0, "h": None, "l": None}, "price more than 50% away from the previous close"),
        ({"c": "n/a"}, "missing price"),
    ],
)
def test_bad_quotes_are_quarantined_with_a_reason(body: dict[str, Any], reason: str) -> None:
    [row] = rows(raw_table([quote(**body)]), catalog.get("quotes"))
    assert row["_reject_reason"] == reason


def test_failed_calls_are_not_rows() -> None:
    line = quote()
    line["status"] = 429
    assert rows(raw_table([line]), catalog.get("quotes")) == []


def test_profile_is_typed_and_empty_profile_rejected() -> None:
    good = {
        "endpoint": "profile",
        "params": {"symbol": "AAPL"},
        "body": {
            "ticker": "AAPL",
            "name": "Apple Inc",
            "ipo": "1980-12-12",
            "marketCapitalization": 3.0e6,
        },
    }
    empty = {"endpoint": "profile", "params": {"symbol": "ZZZZ"}, "body": {}}
    out = {r["symbol"]: r for r in rows(raw_table([good, empty]), catalog.get("company_profiles"))}
    assert out["AAPL"]["name"] == "Apple Inc"
    assert str(out["AAPL"]["ipo"]) == "1980-12-12"
    assert str(out["AAPL"]["as_of"]) == "2026-11-20"
    assert out["AAPL"]["_reject_reason"] is None
    assert out["ZZZZ"]["_reject_reason"] == "unknown symbol: empty profile"


def test_for_endpoints_finds_the_datasets() -> None:
    names = {s.name for s in catalog.for_endpoints(["quote"])}
    assert "quotes" in names and "company_profiles" not in names


def test_content_hash_tells_changed_rows_apart() -> None:
    from bucketpipe.clean.engine import content_hash

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'ab', 'c'), (2, 'a', 'bc'), (3, '', NULL), "
        "(4, NULL, ''), (5, 'ab', 'c')) AS v(id, a, b)"
    )
    hashes = dict(con.execute(f"SELECT id, {content_hash(['a', 'b'])} FROM t").fetchall())
    assert hashes[1] == hashes[5]  # the same content
    assert len({hashes[1], hashes[2], hashes[3], hashes[4]}) == 4  # boundaries and NULL vs ''


def test_datasets_that_list_dates_ahead_are_not_checked_for_the_future() -> None:
    """Calendars and declared dividends (ex, record and pay dates ahead) hold future dates on
    purpose; a quote or an article dated ahead is an error."""
    from bucketpipe import catalog
    from bucketpipe.clean.assessment import forward_looking

    for name in ("earnings_calendar", "ipo_calendar", "dividends"):
        assert forward_looking(catalog.get(name), name), name
    for name in ("quotes", "company_news", "insider_transactions"):
        assert not forward_looking(catalog.get(name), name), name
