"""Market overview queries over in-memory views, and the pure tile arithmetic."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from bucketpipe.serve.queries import market


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        """
        CREATE VIEW quotes AS SELECT * FROM (VALUES
          ('AAA', TIMESTAMPTZ '2026-01-05 15:00:00+00', 10.0, 1.0, 11.11, 9.5, 10.5, 9.0, 9.0),
          ('AAA', TIMESTAMPTZ '2026-01-06 15:00:00+00', 11.0, 1.0, 10.0, 10.0, 11.5, 10.0, 10.0),
          ('AAA', TIMESTAMPTZ '2026-01-06 16:00:00+00', 12.0, 2.0, 20.0, 10.0, 12.0, 10.0, 10.0),
          ('BBB', TIMESTAMPTZ '2026-01-06 16:00:00+00', 50.0, -3.0, -5.66, 53.0, 53.0, 49.0, 53.0),
          ('CCC', TIMESTAMPTZ '2026-01-06 16:00:00+00', 7.0, 0.0, 0.0, 7.0, 7.2, 6.9, 7.0)
        ) AS t(symbol, ts, price, change, change_pct, open, high, low, prev_close)
        """
    )
    return con


def test_latest_quote_per_symbol_with_sentiment_and_sparkline(
    con: duckdb.DuckDBPyConnection,
) -> None:
    latest = market.latest_quotes(con)
    assert list(latest["symbol"]) == ["AAA", "BBB", "CCC"]
    aaa = latest.iloc[0]
    assert aaa["price"] == 12.0  # the newest quote, not the first of the day
    assert list(aaa["trend"]) == [10.0, 12.0]  # last price of each day
    assert list(latest["sentiment"]) == ["strong bullish", "strong bearish", "unchanged"]
    assert "name" not in latest  # no profiles committed: no column, no widget


def test_names_and_volume_join_in_when_committed(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE VIEW company_profiles AS SELECT * FROM (VALUES "
        "('AAA', DATE '2026-01-01', 'Old name'), ('AAA', DATE '2026-01-05', 'A Corp')) "
        "AS t(symbol, as_of, name)"
    )
    con.execute(
        "CREATE VIEW daily_bars AS SELECT * FROM (VALUES "
        "('AAA', DATE '2026-01-05', 100), ('AAA', DATE '2026-01-06', 250)) "
        "AS t(symbol, day, volume)"
    )
    latest = market.latest_quotes(con).set_index("symbol")
    assert latest.loc["AAA", "name"] == "A Corp"
    assert latest.loc["AAA", "volume"] == 250
    assert latest.loc["AAA", "volume_day"] == date(2026, 1, 6)
    assert pd.isna(latest.loc["BBB", "volume"])


def test_volume_names_the_day_of_the_bar_it_is_from(con: duckdb.DuckDBPyConnection) -> None:
    # AAA's newest bar is from quotes alone (no volume): its volume and day are the bar
    # before; BBB's newest bar has one, a day later.
    con.execute(
        "CREATE VIEW daily_bars AS SELECT * FROM (VALUES "
        "('AAA', DATE '2026-01-05', 100), ('AAA', DATE '2026-01-06', NULL), "
        "('BBB', DATE '2026-01-06', 40)) AS t(symbol, day, volume)"
    )
    latest = market.latest_quotes(con)
    by_symbol = latest.set_index("symbol")
    assert by_symbol.loc["AAA", "volume"] == 100
    assert by_symbol.loc["AAA", "volume_day"] == date(2026, 1, 5)
    summary = market.summarize(latest)
    assert summary.total_volume == 140
    assert summary.volume_when == "from Mon 5 Jan to Tue 6 Jan"
    one_day = market.summarize(latest[latest["symbol"] == "BBB"])
    assert one_day.volume_when == "on Tue 6 Jan"


def test_no_quotes_view_gives_an_empty_frame() -> None:
    assert market.latest_quotes(duckdb.connect()).empty


def test_summary_tiles(con: duckdb.DuckDBPyConnection) -> None:
    summary = market.summarize(market.latest_quotes(con))
    assert summary.symbols == 3
    assert summary.average_price == pytest.approx(23.0)
    assert summary.mean_change_pct == pytest.approx((20.0 - 5.66 + 0.0) / 3)
    assert (summary.advancers, summary.decliners, summary.unchanged) == (1, 1, 1)
    assert summary.total_volume is None
    assert summary.volume_when == ""
    assert summary.trend == "up"
    assert market.summarize(pd.DataFrame()).symbols == 0


def test_movers_never_list_a_symbol_twice(con: duckdb.DuckDBPyConnection) -> None:
    gainers, losers = market.movers(market.latest_quotes(con))
    assert list(gainers["symbol"]) == ["AAA"]
    assert list(losers["symbol"]) == ["BBB"]


def test_sentiment_counts_keep_every_level(con: duckdb.DuckDBPyConnection) -> None:
    counts = market.sentiment_counts(market.latest_quotes(con))
    assert list(counts["sentiment"]) == list(market.SENTIMENT_ORDER)
    assert counts.set_index("sentiment")["symbols"].to_dict() == {
        "strong bullish": 1,
        "bullish": 0,
        "unchanged": 1,
        "bearish": 0,
        "strong bearish": 1,
    }


@pytest.mark.parametrize(
    ("price", "low", "high", "expected"),
    [(10, 10, 20, 0.0), (20, 10, 20, 1.0), (15, 10, 20, 0.5), (25, 10, 20, 1.0), (5, 5, 5, None)],
)
def test_day_range_position(price: float, low: float, high: float, expected: float | None) -> None:
    assert market.day_range_position(price, low, high) == expected


def test_a_recent_window_gives_the_full_history_answer(con: duckdb.DuckDBPyConnection) -> None:
    # The window holds AAA's newest day only: its sparkline is one day short, so it comes from
    # the whole history; BBB and CCC are complete within the window.
    con.execute(
        "CREATE VIEW _recent_quotes AS SELECT * FROM quotes "
        "WHERE ts >= TIMESTAMPTZ '2026-01-06 00:00:00+00'"
    )
    windowed = market.latest_quotes(con, spark_days=2)
    con.execute("DROP VIEW _recent_quotes")
    full = market.latest_quotes(con, spark_days=2)
    pd.testing.assert_frame_equal(windowed, full)
    assert list(windowed.iloc[0]["trend"]) == [10.0, 12.0]


def test_the_overview_reads_only_the_window_when_it_is_complete(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute(
        "CREATE VIEW _recent_quotes AS SELECT * FROM quotes "
        "WHERE ts >= TIMESTAMPTZ '2026-01-06 00:00:00+00'"
    )
    latest = market.latest_quotes(con, spark_days=1).set_index("symbol")
    assert latest.loc["AAA", "price"] == 12.0
    assert list(latest.loc["AAA", "trend"]) == [12.0]


def test_the_overview_dataset_is_read_when_registered(con: duckdb.DuckDBPyConnection) -> None:
    live = market.latest_quotes(con)
    stored = live.assign(price=99.0)  # not what the quotes say: proves which one is read
    con.register("stored", stored)
    con.execute(
        f"CREATE VIEW {market.OVERVIEW} AS SELECT *, TIMESTAMPTZ '2026-01-06 17:00:00+00' AS "
        "_fetched_at, 'clean-1' AS _clean_run, DATE '2026-01-01' AS dt FROM stored"
    )
    read = market.latest_quotes(con)
    assert list(read.columns) == list(live.columns)  # no lineage, no partition column
    assert list(read["price"]) == [99.0, 99.0, 99.0]
    assert list(read["symbol"]) == list(live["symbol"])
    # Another sparkline length is not what the dataset holds: computed from the quotes.
    assert list(market.latest_quotes(con, spark_days=1)["price"]) == list(live["price"])


def test_the_stored_overview_comes_in_the_order_duckdb_sorts_symbols() -> None:
    """The overview is sorted in Arrow: the same order as DuckDB's `ORDER BY symbol`."""
    con = duckdb.connect()
    symbols = ["b", "B", "AAPL", "ÄX", "A.B", "Z", "", "a", "BRK-B", "€UR", "aa", "A", None]
    rows = ", ".join(
        f"({'NULL' if s is None else repr(s)}, {n}.0, [{n}.0, 1.5])" for n, s in enumerate(symbols)
    )
    con.execute(
        f"CREATE VIEW {market.OVERVIEW} AS SELECT *, DATE '2026-01-01' AS dt, 'r' AS _clean_run "
        f"FROM (VALUES {rows}) AS t(symbol, price, trend) USING SAMPLE 100 PERCENT (reservoir)"
    )
    expected = con.execute(
        f"SELECT symbol, price, trend FROM {market.OVERVIEW} ORDER BY symbol"
    ).to_arrow_table()
    read = market.latest_quotes(con)
    pd.testing.assert_frame_equal(read, expected.to_pandas())
    assert list(read["symbol"].iloc[:3]) == ["", "A", "A.B"] and pd.isna(read["symbol"].iloc[-1])


def test_the_session_is_named_by_its_weekday() -> None:
    latest = pd.DataFrame(
        {"ts": pd.to_datetime(["2026-12-03 20:00", "2026-12-04 21:00"], utc=True)}
    )
    assert market.session_name(latest) == "Fri 4 Dec"
    assert market.session_name(latest.iloc[0:0]) is None
