"""Stock queries: bars (committed or from quotes), indicators, per-symbol tables, tiles."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bucketpipe.catalog.overview import OVERVIEW
from bucketpipe.lake.views import recent_view
from bucketpipe.serve.queries import stock
from bucketpipe.serve.queries.base import column_names, columns

QUOTES = """
CREATE VIEW quotes AS SELECT * FROM (VALUES
  ('AAA', TIMESTAMPTZ '2026-01-05 15:00:00+00', 10.0, 9.0, 10.5, 8.5),
  ('AAA', TIMESTAMPTZ '2026-01-05 20:00:00+00', 11.0, 9.0, 11.5, 8.5),
  ('AAA', TIMESTAMPTZ '2026-01-06 15:00:00+00', 12.0, 11.0, 12.5, 10.5),
  ('BBB', TIMESTAMPTZ '2026-01-06 15:00:00+00', 50.0, 50.0, 51.0, 49.0)
) AS t(symbol, ts, price, open, high, low)
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(QUOTES)
    return con


def test_bars_from_quotes_when_daily_bars_are_missing(con: duckdb.DuckDBPyConnection) -> None:
    bars = stock.bars(con, "AAA", date(2026, 1, 1), date(2026, 1, 31))
    assert bars[["day", "open", "high", "low", "close"]].values.tolist() == [
        [date(2026, 1, 5), 9.0, 11.5, 8.5, 11.0],  # the day's last snapshot closes it
        [date(2026, 1, 6), 11.0, 12.5, 10.5, 12.0],
    ]
    assert set(bars["source"]) == {"quotes"}
    assert stock.day_bounds(con, "AAA") == (date(2026, 1, 5), date(2026, 1, 6))
    assert stock.day_bounds(con, "ZZZ") is None


def test_committed_daily_bars_win(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE VIEW daily_bars AS SELECT * FROM (VALUES ('AAA', DATE '2026-01-05', 1.0, 2.0, "
        "0.5, 1.5, 1000, 'candles')) AS t(symbol, day, open, high, low, close, volume, source)"
    )
    bars = stock.bars(con, "AAA", date(2026, 1, 1), date(2026, 1, 31))
    assert bars["close"].tolist() == [1.5] and bars["volume"].tolist() == [1000]


def test_indicators_only_with_the_columns_that_exist(con: duckdb.DuckDBPyConnection) -> None:
    assert stock.indicators(con, "AAA", date(2026, 1, 1), date(2026, 1, 31)).empty
    con.execute(
        "CREATE VIEW daily_indicators AS SELECT * FROM (VALUES "
        "('AAA', DATE '2026-01-05', 1.5, 55.0), ('AAA', DATE '2026-01-06', 1.6, 61.0), "
        "('BBB', DATE '2026-01-06', 9.9, 12.0)) AS t(symbol, day, close, rsi_14)"
    )
    ind = stock.indicators(con, "AAA", date(2026, 1, 6), date(2026, 1, 6))
    assert list(ind.columns) == ["day", "close", "rsi_14"]
    assert ind["rsi_14"].tolist() == [61.0]


def test_symbols_and_intraday(con: duckdb.DuckDBPyConnection) -> None:
    assert stock.symbols(con) == ["AAA", "BBB"]
    day = stock.intraday(con, "AAA", date(2026, 1, 5), date(2026, 1, 5))
    assert day["price"].tolist() == [10.0, 11.0]  # the end day is included whole


def test_intraday_reads_market_days_as_the_daily_bars_do() -> None:
    """A quote after 20:00 in New York is on the next UTC day, but in its New York day's
    window (the day of its daily bar); one before midnight there is in the day before."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE VIEW quotes AS SELECT * FROM (VALUES "
        "('AAA', TIMESTAMPTZ '2026-01-05 04:59:00+00', 1.0), "  # 23:59 on 4 Jan in New York
        "('AAA', TIMESTAMPTZ '2026-01-05 05:00:00+00', 2.0), "  # midnight, 5 Jan
        "('AAA', TIMESTAMPTZ '2026-01-06 02:00:00+00', 3.0), "  # 21:00 on 5 Jan
        "('AAA', TIMESTAMPTZ '2026-07-07 03:59:00+00', 4.0), "  # 23:59 on 6 Jul (summer time)
        "('AAA', TIMESTAMPTZ '2026-07-07 04:00:00+00', 5.0)"  # midnight, 7 Jul
        ") AS t(symbol, ts, price)"
    )
    day = stock.intraday(con, "AAA", date(2026, 1, 5), date(2026, 1, 5))
    assert day["price"].tolist() == [2.0, 3.0]
    summer = stock.intraday(con, "AAA", date(2026, 7, 6), date(2026, 7, 6))
    assert summer["price"].tolist() == [4.0]


def test_symbol_tables_newest_first_and_missing_datasets(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE VIEW company_news AS SELECT * FROM (VALUES "
        "('AAA', TIMESTAMPTZ '2026-01-01 10:00:00+00', 'old'), "
        "('AAA', TIMESTAMPTZ '2026-01-03 10:00:00+00', 'new'), "
        "('BBB', TIMESTAMPTZ '2026-01-04 10:00:00+00', 'other')) "
        "AS t(symbol, published_at, headline)"
    )
    news = stock.news(con, "AAA")
    assert news["headline"].tolist() == ["new", "old"]
    assert list(news.columns) == ["published_at", "headline"]
    assert stock.earnings(con, "AAA").empty  # no earnings dataset
    assert stock.profile(con, "AAA") == {}
    assert stock.key_metrics(con, "AAA") == {}


def test_latest_values_and_volatility() -> None:
    table = pd.DataFrame({"close": [100.0, 101.0, None, 99.99], "rsi_14": [None, None, 40.0, 72.5]})
    values = stock.latest_values(table, ["close", "rsi_14", "missing"])
    assert values["close"] == pytest.approx((99.99, -1.01))
    assert values["rsi_14"] == pytest.approx((72.5, 32.5))
    assert "missing" not in values
    returns = pd.Series([100.0, 101.0, 99.99]).pct_change().dropna()
    days = pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-07"]).date
    bars = pd.DataFrame({"day": days, "close": [100.0, 101.0, 99.99]})
    from_bars = stock.volatility(bars, pd.DataFrame())
    assert from_bars.value == pytest.approx(returns.std(ddof=1) * 100)
    assert (from_bars.days, from_bars.until) == (2, days[-1])
    assert stock.volatility(bars.head(1), pd.DataFrame()).value is None


def test_volatility_prefers_the_whole_history_indicator() -> None:
    """The committed 20-day figure does not depend on where the chosen range starts."""
    days = pd.to_datetime(["2026-01-06", "2026-01-07"]).date
    ind = pd.DataFrame({"day": days, "volatility_20": [0.011, None]})
    bars = pd.DataFrame({"day": days, "close": [100.0, 150.0]})
    windowed = stock.volatility(bars, ind)
    assert windowed.value == pytest.approx(1.1)
    assert (windowed.days, windowed.until) == (20, days[0])


@pytest.mark.parametrize(
    ("value", "zone"),
    [(70.0, "overbought"), (30.0, "oversold"), (50.0, "neutral"), (None, "no data")],
)
def test_rsi_zone(value: float | None, zone: str) -> None:
    assert stock.rsi_zone(value) == zone


def test_latest_indicators_one_row_per_symbol(con: duckdb.DuckDBPyConnection) -> None:
    assert stock.latest_indicators(con).empty
    con.execute(
        "CREATE VIEW daily_indicators AS SELECT * FROM (VALUES "
        "('AAA', DATE '2026-01-05', 1.5, 55.0), ('AAA', DATE '2026-01-06', 1.6, 61.0), "
        "('BBB', DATE '2026-01-06', 9.9, 12.0)) AS t(symbol, day, close, rsi_14)"
    )
    table = stock.latest_indicators(con)
    assert table[["symbol", "rsi_14"]].values.tolist() == [["AAA", 61.0], ["BBB", 12.0]]


def test_profiles_come_from_the_newest_weeks_then_from_all_history(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # As the reader registers them: the whole dataset, and its recent window (newest weeks).
    con.execute(
        "CREATE VIEW company_profiles AS SELECT * FROM (VALUES "
        "('AAA', DATE '2025-06-01', 'Old name'), ('AAA', DATE '2026-01-05', 'New name'), "
        "('OLD', DATE '2025-06-01', 'Delisted Inc')) AS t(symbol, as_of, name)"
    )
    con.execute(
        f"CREATE VIEW {recent_view('company_profiles')} AS "
        "SELECT * FROM company_profiles WHERE as_of >= DATE '2025-12-01'"
    )
    assert stock.profile(con, "AAA")["name"] == "New name"
    assert stock.profile(con, "OLD")["name"] == "Delisted Inc"  # older than the window
    assert stock.profile(con, "ZZZ") == {}
    # The picker lists symbols with bars (here: from quotes) or a recent profile: OLD has
    # neither (its page still opens by name).
    assert stock.symbols(con) == ["AAA", "BBB"]
    # With a market overview (every quoted symbol, one small file), that is read instead.
    con.execute(f"CREATE VIEW {OVERVIEW} AS SELECT 'CCC' AS symbol")
    assert stock.symbols(con) == ["AAA", "CCC"]  # AAA from its recent profile


def test_the_newest_files_give_the_last_day_and_the_symbols(
    con: duckdb.DuckDBPyConnection,
) -> None:
    rows = "('AAA', DATE '2025-12-30', 1.0), ('AAA', DATE '2026-01-06', 2.0), "
    rows += "('CCC', DATE '2025-12-31', 3.0), ('BBB', DATE '2026-01-05', 4.0)"
    con.execute(f"CREATE VIEW daily_bars AS SELECT * FROM (VALUES {rows}) AS t(symbol, day, close)")
    newest = "SELECT * FROM daily_bars WHERE day >= DATE '2026-01-01'"  # the newest year
    first = date(2025, 12, 30)  # the dataset's first day
    assert stock.day_bounds(con, "AAA", newest, first) == (first, date(2026, 1, 6))
    # A symbol missing from the newest files is looked up in all of them.
    assert stock.day_bounds(con, "CCC", newest, first) == (date(2025, 12, 31),) * 2
    assert stock.newest_symbols(con, newest) == ["AAA", "BBB"]
    bars = stock.bars(con, "AAA", first, date(2026, 1, 31), newest)
    assert bars["close"].tolist() == [2.0]  # the rows of the files it was given


def test_column_names_list_what_the_catalog_lists(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """`column_names` reads the one view the page asks about; its answer is the catalog's."""
    data = tmp_path / "bars.parquet"
    con.execute(
        f"COPY (SELECT 'AAA' AS symbol, DATE '2026-01-05' AS day, 1.5 AS close, 0 AS _empty) "
        f"TO '{data}'"
    )
    con.execute(f"CREATE VIEW daily_bars AS SELECT * FROM read_parquet('{data}')")
    con.execute("CREATE TABLE notes AS SELECT 1 AS id, 'x' AS note")
    for name in ("quotes", "daily_bars", "notes", "missing", recent_view("quotes")):
        assert column_names(con, name) == list(columns(con, name)), name
    assert column_names(con, "daily_bars") == ["symbol", "day", "close"]  # no `_empty`
    assert column_names(con, "missing") == []
    # A view that no longer binds (its file is gone) is described by the catalog, as before.
    data.unlink()
    assert column_names(con, "daily_bars") == ["symbol", "day", "close"]


def test_an_annual_filing_has_no_quarter(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE VIEW financials_reported AS SELECT * FROM (VALUES "
        "('AAA', DATE '2026-02-01', 2025, 0, '10-K', 100.0), "
        "('AAA', DATE '2025-11-01', 2025, 3, '10-Q', 30.0)) "
        "AS t(symbol, filed_date, year, quarter, form, revenue)"
    )
    fin = stock.financials(con, "AAA")
    assert fin["form"].tolist() == ["10-K", "10-Q"]
    assert pd.isna(fin["quarter"].iloc[0]) and fin["quarter"].iloc[1] == 3


def test_social_sentiment_keeps_to_the_range(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE VIEW social_sentiment AS SELECT * FROM (VALUES "
        "('AAA', TIMESTAMPTZ '2026-12-01 10:00:00+00', 'reddit', 5, 0.2), "
        "('AAA', TIMESTAMPTZ '2026-12-04 23:00:00+00', 'reddit', 3, -0.4), "
        "('AAA', TIMESTAMPTZ '2026-12-05 10:00:00+00', 'reddit', 7, 0.9)) "
        "AS t(symbol, at_time, source, mention, score)"
    )
    social = stock.social(con, "AAA", date(2026, 12, 1), date(2026, 12, 4))
    assert social["mention"].tolist() == [5, 3]
    assert len(stock.social(con, "AAA", date(2026, 12, 1))) == 3
