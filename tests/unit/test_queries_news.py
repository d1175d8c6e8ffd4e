"""News and calendar queries over in-memory views."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from bucketpipe.serve.queries import news


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        """
        CREATE VIEW market_news AS SELECT * FROM (VALUES
          (TIMESTAMPTZ '2026-01-05 10:00:00+00', 'general', 'Markets rally', 'Stocks up', 'Wire'),
          (TIMESTAMPTZ '2026-01-06 10:00:00+00', 'merger', 'A buys B', '100% cash deal', 'Desk'),
          (TIMESTAMPTZ '2026-01-07 10:00:00+00', 'crypto', 'Coin_x dips', 'Down 5%', 'Wire')
        ) AS t(published_at, category, headline, summary, source)
        """
    )
    con.execute(
        """
        CREATE VIEW earnings_calendar AS SELECT * FROM (VALUES
          (DATE '2026-01-10', 'AAA', 'bmo', 1.2),
          (DATE '2026-01-20', 'BBB', 'amc', 0.4),
          (DATE '2026-02-20', 'AAA', 'xyz', 1.3)
        ) AS t(report_date, symbol, hour, eps_estimate)
        """
    )
    return con


def test_newest_first_and_only_existing_columns(con: duckdb.DuckDBPyConnection) -> None:
    articles = news.market_news(con)
    assert articles["headline"].tolist() == ["Coin_x dips", "A buys B", "Markets rally"]
    assert "url" not in articles  # the view has no url column
    assert news.categories(con) == ["crypto", "general", "merger"]


def test_category_filter_and_search(con: duckdb.DuckDBPyConnection) -> None:
    assert news.market_news(con, categories=("merger", "general"))["category"].tolist() == [
        "merger",
        "general",
    ]
    assert news.market_news(con, search="wire")["headline"].tolist() == [
        "Coin_x dips",
        "Markets rally",
    ]
    # LIKE wildcards in the search are taken literally.
    assert news.market_news(con, search="100%")["headline"].tolist() == ["A buys B"]
    assert news.market_news(con, search="n_x")["headline"].tolist() == ["Coin_x dips"]
    assert news.market_news(con, search="Coinax").empty


def test_earnings_calendar_window_and_hours(con: duckdb.DuckDBPyConnection) -> None:
    table = news.earnings_calendar(con, date(2026, 1, 1), date(2026, 1, 31))
    assert table["symbol"].tolist() == ["AAA", "BBB"]
    assert table["hour"].tolist() == ["before open", "after close"]
    only = news.earnings_calendar(con, date(2026, 1, 1), date(2026, 3, 1), symbols=("AAA",))
    assert only["hour"].tolist() == ["before open", "xyz"]  # unknown codes are kept as they are
    assert news.calendar_bounds(con, "earnings_calendar") == (date(2026, 1, 10), date(2026, 2, 20))


def test_missing_datasets_give_empty_results() -> None:
    con = duckdb.connect()
    assert news.market_news(con).empty
    assert news.ipo_calendar(con, date(2026, 1, 1), date(2026, 2, 1)).empty
    assert news.calendar_bounds(con, "ipo_calendar") is None
    assert news.categories(con) == []
