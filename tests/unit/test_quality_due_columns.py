"""Columns empty by definition in some rows: the catalog's `due` conditions, counted by
`count_due` over rows like the ones each dataset commits."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from bucketpipe.catalog.datasets.bars import DAILY_BARS, MARKET_OVERVIEW
from bucketpipe.catalog.datasets.finnhub import COMPANY_NEWS, MARKET_NEWS
from bucketpipe.quality.due import count_due

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def due_of(spec_due: dict[str, str], column: str, rows: str, names: str) -> tuple[int, int]:
    con = duckdb.connect()
    relation = f"(SELECT * FROM (VALUES {rows}) AS t({names}))"
    return count_due(con, relation, [column], spec_due, NOW)[column]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # A plan without candles: bars from quotes alone, no volume anywhere: none due.
        ("('AAPL', NULL::BIGINT), ('MSFT', NULL)", (0, 0)),
        # With candles, every symbol's newest bar owes its volume; a missing one counts.
        ("('AAPL', 100::BIGINT), ('MSFT', NULL)", (2, 1)),
    ],
)
def test_the_overview_owes_a_volume_once_the_lake_has_candles(
    rows: str, expected: tuple[int, int]
) -> None:
    assert due_of(MARKET_OVERVIEW.due, "volume", rows, "symbol, volume") == expected


def test_market_news_owes_related_symbols_only_in_categories_that_name_them() -> None:
    rows = "('general', NULL::VARCHAR), ('general', NULL), ('merger', 'AAPL'), ('merger', NULL)"
    assert due_of(MARKET_NEWS.due, "related", rows, "category, related") == (2, 1)
    # Company news always names its symbol: due in every row (no condition).
    assert "related" not in COMPANY_NEWS.due


def test_bars_owe_a_volume_unless_built_from_quotes() -> None:
    rows = "('candle', 5::BIGINT), ('quotes', NULL), ('candle+quotes', NULL)"
    assert due_of(DAILY_BARS.due, "volume", rows, "source, volume") == (2, 1)
