"""Daily bars: the SQL that picks candles, else aggregates quotes, on in-memory tables."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pytest

from bucketpipe import catalog
from bucketpipe.catalog.datasets.bars import DAILY_INDICATORS
from bucketpipe.clean.derived_sql import (
    bars_sql,
    grain_partitions,
    indicator_rows_sql,
    market_date,
    touched_sql,
    with_market_day,
)

NOW = "2026-11-20T18:00:00+00:00"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE quotes (symbol VARCHAR, ts TIMESTAMPTZ, price DOUBLE, open DOUBLE, "
        "high DOUBLE, low DOUBLE)"
    )
    con.execute(
        "CREATE TABLE candles (symbol VARCHAR, resolution VARCHAR, ts TIMESTAMPTZ, open DOUBLE, "
        "high DOUBLE, low DOUBLE, close DOUBLE, volume BIGINT)"
    )
    con.execute("CREATE TABLE touched (symbol VARCHAR, day DATE)")
    con.execute("CREATE TABLE bars (symbol VARCHAR, day DATE, final BOOLEAN)")
    return con


def quote(con: duckdb.DuckDBPyConnection, symbol: str, ts: str, price: float, **f: Any) -> None:
    con.execute(
        "INSERT INTO quotes VALUES (?, CAST(? AS TIMESTAMPTZ), ?, ?, ?, ?)",
        [symbol, ts, price, f.get("open"), f.get("high"), f.get("low")],
    )


def bars(con: duckdb.DuckDBPyConnection, today: str = "2026-11-20") -> dict[tuple[str, date], Any]:
    sql = bars_sql(
        "SELECT * FROM quotes",
        "SELECT * FROM candles",
        "SELECT * FROM touched",
        today=today,
        now=NOW,
        run_id="clean-1",
    )
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_a_bar_from_quotes_uses_the_day_fields_and_the_last_price(
    con: duckdb.DuckDBPyConnection,
) -> None:
    quote(con, "AAA", "2026-11-19 14:30:00+00", 10.5, open=10.0, high=10.6, low=9.9)
    quote(con, "AAA", "2026-11-19 16:00:00+00", 11.0, open=10.0, high=11.2, low=9.9)
    quote(con, "AAA", "2026-11-19 21:00:00+00", 10.8, open=10.0, high=11.2, low=9.9)
    con.execute("INSERT INTO touched VALUES ('AAA', DATE '2026-11-19')")
    bar = bars(con)[("AAA", date(2026, 11, 19))]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (10.0, 11.2, 9.9, 10.8)
    assert (bar["volume"], bar["source"], bar["n_quotes"]) == (None, "quotes", 3)
    assert bar["final"] is True and bar["_clean_run"] == "clean-1"


def test_missing_day_fields_fall_back_to_prices(con: duckdb.DuckDBPyConnection) -> None:
    quote(con, "AAA", "2026-11-20 15:00:00+00", 20.0)
    quote(con, "AAA", "2026-11-20 15:30:00+00", 22.0, high=0.0, low=0.0)  # zeros mean unknown
    quote(con, "AAA", "2026-11-20 16:00:00+00", 19.0)
    con.execute("INSERT INTO touched VALUES ('AAA', DATE '2026-11-20')")
    bar = bars(con)[("AAA", date(2026, 11, 20))]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (20.0, 22.0, 19.0, 19.0)
    assert bar["final"] is False  # today: provisional


INSIDE = [("15:00", 50.0, {"open": 49.0, "high": 51.0, "low": 48.0})]
# Quotes kept from an earlier delivery (their re-delivery was rejected) lie outside the new
# source's candle: the bar widens to their prices and the day high and low they report (54.0,
# 46.0); its open and close stay the candle's.
OUTSIDE = [
    ("15:00", 53.5, {"high": 54.0, "low": 46.0}),
    ("16:00", 47.0, {}),
    *INSIDE,
]


@pytest.mark.parametrize(
    ("quotes", "expected", "source"),
    [
        (INSIDE, (49.5, 52.0, 47.5, 51.5), "candle"),
        (OUTSIDE, (49.5, 54.0, 46.0, 51.5), "candle+quotes"),  # the label says it was widened
    ],
    ids=["inside", "outside"],
)
def test_a_candle_wins_over_quotes_and_spans_them(
    con: duckdb.DuckDBPyConnection,
    quotes: list[tuple[str, float, dict[str, float]]],
    expected: tuple[float, ...],
    source: str,
) -> None:
    for at, price, fields in quotes:
        quote(con, "BBB", f"2026-11-19 {at}:00+00", price, **fields)
    con.execute(
        "INSERT INTO candles VALUES ('BBB', 'D', '2026-11-19 00:00:00+00', 49.5, 52.0, 47.5, 51.5, "
        "1200), ('BBB', '60', '2026-11-19 15:00:00+00', 1, 1, 1, 1, 1)"
    )
    con.execute("INSERT INTO touched VALUES ('BBB', DATE '2026-11-19')")
    bar = bars(con)[("BBB", date(2026, 11, 19))]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == expected
    assert (bar["volume"], bar["source"], bar["n_quotes"]) == (1200, source, len(quotes))


@pytest.mark.parametrize(
    ("day", "at", "close", "source"),
    [
        # 16:00 in New York is 21:00 UTC in winter, 20:00 UTC in summer.
        ("2026-11-19", "21:00", 50.5, "candle+quotes"),
        ("2026-11-19", "20:59", 51.5, "candle"),
        ("2026-07-15", "20:00", 50.5, "candle+quotes"),
        ("2026-07-15", "19:59", 51.5, "candle"),
    ],
)
def test_a_quote_at_the_close_closes_the_bar(
    con: duckdb.DuckDBPyConnection, day: str, at: str, close: float, source: str
) -> None:
    """A quote taken at or after the session's close states the closing price; kept from an
    earlier delivery, it can differ from a newer source's candle, and the bar follows it so
    that quotes and bars agree. Before the close, the candle's close stands."""
    quote(con, "BBB", f"{day} 15:00:00+00", 50.0)
    quote(con, "BBB", f"{day} {at}:00+00", 50.5)
    con.execute(
        f"INSERT INTO candles VALUES ('BBB', 'D', '{day} 00:00:00+00', 49.5, 52.0, 47.5, 51.5, 9)"
    )
    con.execute(f"INSERT INTO touched VALUES ('BBB', DATE '{day}')")
    bar = bars(con, today="2026-12-01")[("BBB", date.fromisoformat(day))]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (49.5, 52.0, 47.5, close)
    assert bar["source"] == source


def test_a_quote_at_the_close_equal_to_the_candle_keeps_the_candle_label(
    con: duckdb.DuckDBPyConnection,
) -> None:
    quote(con, "BBB", "2026-11-19 21:00:00+00", 51.5)
    con.execute(
        "INSERT INTO candles VALUES "
        "('BBB', 'D', '2026-11-19 00:00:00+00', 49.5, 52.0, 47.5, 51.5, 9)"
    )
    con.execute("INSERT INTO touched VALUES ('BBB', DATE '2026-11-19')")
    bar = bars(con)[("BBB", date(2026, 11, 19))]
    assert (bar["close"], bar["source"]) == (51.5, "candle")


def test_late_quotes_belong_to_the_new_york_day(con: duckdb.DuckDBPyConnection) -> None:
    quote(con, "AAA", "2026-11-20 20:00:00+00", 10.0)
    quote(con, "AAA", "2026-11-21 00:30:00+00", 11.0)  # 19:30 in New York, still the 20th
    con.execute("INSERT INTO touched VALUES ('AAA', DATE '2026-11-20')")
    out = bars(con, today="2026-11-23")
    assert list(out) == [("AAA", date(2026, 11, 20))]
    assert out[("AAA", date(2026, 11, 20))]["close"] == 11.0


def test_the_market_day_of_every_hour_equals_its_conversion() -> None:
    """The per-hour lookup gives each quote the date a conversion of its own time gives: the
    first and last instant of every UTC hour of 1970-2040, times before 1970 (converted one by
    one) and infinite ones, in a session whose own zone is neither UTC nor the market's."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Kolkata'")
    con.execute(
        "CREATE TABLE q AS SELECT h + o AS ts FROM range(TIMESTAMPTZ '1970-01-01 00:00:00+00', "
        "TIMESTAMPTZ '2041-01-01 00:00:00+00', INTERVAL 1 HOUR) AS r(h), "
        "(VALUES (INTERVAL 0 SECOND), (INTERVAL '59 minutes 59.999999 seconds')) AS v(o) "
        "UNION ALL SELECT CAST(t AS TIMESTAMPTZ) FROM (VALUES ('1969-12-31 04:30:00+00'), "
        "('1883-11-18 16:00:00+00'), ('1883-11-18 17:30:00+00'), ('infinity'), ('-infinity'), "
        "(NULL)) AS p(t)"
    )
    rows, wrong = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE day IS DISTINCT FROM {market_date('ts')}) "
        f"FROM ({with_market_day('SELECT ts FROM q')})"
    ).fetchone()  # type: ignore[misc]
    assert (rows, wrong) == (2 * 24 * 25933 + 6, 0)


def test_only_touched_days_with_data_become_bars(con: duckdb.DuckDBPyConnection) -> None:
    quote(con, "AAA", "2026-11-18 15:00:00+00", 10.0)
    quote(con, "AAA", "2026-11-19 15:00:00+00", 11.0)
    con.execute("INSERT INTO touched VALUES ('AAA', DATE '2026-11-19'), ('CCC', '2026-11-19')")
    assert list(bars(con)) == [("AAA", date(2026, 11, 19))]


def test_bars_of_every_day_equal_the_bars_of_all_days_touched(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """A first clean or a rebuild computes every symbol-day without finding the touched ones
    first: the same bars as when every day with quotes or a daily candle is touched."""
    quote(con, "AAA", "2026-11-18 15:00:00+00", 10.0, open=9.5, high=10.4, low=9.1)
    quote(con, "AAA", "2026-11-19 01:00:00+00", 10.2)  # New York: the 18th
    quote(con, "AAA", "2026-11-19 15:00:00+00", 11.0)
    quote(con, "BBB", "2026-11-19 15:00:00+00", 50.0)
    con.execute(
        "INSERT INTO candles VALUES ('BBB', 'D', '2026-11-19 00:00:00+00', 49.5, 52.0, 47.5, 51.5, "
        "1200), ('CCC', 'D', '2026-11-20 00:00:00+00', 5, 6, 4, 5.5, 10), "
        "('DDD', '60', '2026-11-20 15:00:00+00', 1, 1, 1, 1, 1)"
    )
    every = bars_sql(
        "SELECT * FROM quotes",
        "SELECT * FROM candles",
        None,
        today="2026-11-20",
        now=NOW,
        run_id="clean-1",
    )
    con.execute(
        "INSERT INTO touched "
        + touched_sql(
            "SELECT * FROM quotes",
            "SELECT * FROM candles",
            "SELECT * FROM bars",
            today="2026-11-20",
        )
    )
    touched = sorted(tuple(bar.values()) for bar in bars(con).values())
    assert sorted(con.execute(every).fetchall()) == touched
    assert {(s, d.isoformat()) for s, d, *_ in con.execute(every).fetchall()} == {
        ("AAA", "2026-11-18"),
        ("AAA", "2026-11-19"),
        ("BBB", "2026-11-19"),
        ("CCC", "2026-11-20"),
    }


def test_touched_days_come_from_new_rows_and_ended_provisional_bars(
    con: duckdb.DuckDBPyConnection,
) -> None:
    quote(con, "AAA", "2026-11-21 01:00:00+00", 10.0)  # New York: the 20th
    con.execute(
        "INSERT INTO candles VALUES ('BBB', 'D', '2026-11-19 00:00:00+00', 1, 1, 1, 1, 1), "
        "('BBB', '60', '2026-11-18 15:00:00+00', 1, 1, 1, 1, 1)"
    )
    con.execute(
        "INSERT INTO bars VALUES ('CCC', '2026-11-19', false), ('DDD', '2026-11-19', true), "
        "('EEE', '2026-11-20', false)"
    )
    sql = touched_sql(
        "SELECT * FROM quotes",
        "SELECT * FROM candles",
        "SELECT * FROM bars",
        today="2026-11-20",
    )
    assert sorted(con.execute(sql).fetchall()) == [
        ("AAA", date(2026, 11, 20)),
        ("BBB", date(2026, 11, 19)),
        ("CCC", date(2026, 11, 19)),
    ]


def test_grain_partitions() -> None:
    days = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 12, 1)]
    assert grain_partitions(days, "day") == ["2026-11-20", "2026-11-21", "2026-12-01"]
    assert grain_partitions(days, "month") == ["2026-11-01", "2026-12-01"]
    assert grain_partitions(days, "year") == ["2026-01-01"]


def test_indicator_rows_have_the_declared_columns(con: duckdb.DuckDBPyConnection) -> None:
    names = [c.name for c in DAILY_INDICATORS.columns]
    values = ", ".join(
        "DATE '2026-11-20' AS day"
        if n == "day"
        else f"'X' AS {n}"
        if n == "symbol"
        else f"1.5 AS {n}"
        for n in names
        if not n.startswith("_")
    )
    con.execute(f"CREATE TABLE frame AS SELECT {values}")
    cur = con.execute(indicator_rows_sql("frame", now=NOW, run_id="clean-1"))
    assert [d[0] for d in cur.description] == names
    assert catalog.get("daily_indicators") is DAILY_INDICATORS
