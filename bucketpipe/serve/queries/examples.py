"""Example queries of the SQL explorer, each shown only when the views it reads exist."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    title: str
    needs: tuple[str, ...]
    sql: str


EXAMPLES = (
    Example(
        "Latest quote per symbol",
        ("quotes",),
        "SELECT symbol, ts, price, change_pct\nFROM quotes\n"
        "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) = 1\nORDER BY symbol",
    ),
    Example(
        "Daily range and snapshots per symbol",
        ("quotes",),
        "SELECT symbol, CAST(ts AS DATE) AS day, min(price) AS low, max(price) AS high,\n"
        "       count(*) AS snapshots\nFROM quotes\nGROUP BY ALL\nORDER BY day DESC, symbol\n"
        "LIMIT 100",
    ),
    Example(
        "Overbought and oversold days (RSI 14)",
        ("daily_indicators",),
        "SELECT symbol, day, close, rsi_14,\n"
        "       CASE WHEN rsi_14 >= 70 THEN 'overbought' ELSE 'oversold' END AS zone\n"
        "FROM daily_indicators\nWHERE rsi_14 >= 70 OR rsi_14 <= 30\nORDER BY day DESC, symbol",
    ),
    Example(
        "MACD crossovers",
        ("daily_indicators",),
        "SELECT symbol, day, macd, macd_signal\nFROM (\n"
        "  SELECT *, lag(macd_hist) OVER (PARTITION BY symbol ORDER BY day) AS prev_hist\n"
        "  FROM daily_indicators\n) AS t\n"
        "WHERE sign(macd_hist) <> sign(prev_hist)\nORDER BY day DESC, symbol",
    ),
    Example(
        "Daily bars of one symbol",
        ("daily_bars",),
        "SELECT day, open, high, low, close, volume, source\nFROM daily_bars\n"
        "WHERE symbol = 'AAPL'\nORDER BY day DESC",
    ),
    Example(
        "Company profiles",
        ("company_profiles",),
        "SELECT symbol, name, exchange, industry, market_cap\nFROM company_profiles\n"
        "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY as_of DESC) = 1\n"
        "ORDER BY market_cap DESC NULLS LAST",
    ),
    Example(
        "News per source",
        ("company_news",),
        "SELECT source, count(*) AS articles, max(published_at) AS newest\n"
        "FROM company_news\nGROUP BY source\nORDER BY articles DESC",
    ),
    Example(
        "Earnings surprises",
        ("earnings",),
        "SELECT symbol, period, actual, estimate, surprise_pct\nFROM earnings\n"
        "ORDER BY abs(surprise_pct) DESC NULLS LAST\nLIMIT 20",
    ),
    Example(
        "Columns of every dataset",
        (),
        "SELECT table_name AS dataset, column_name, data_type\nFROM duckdb_columns()\n"
        "WHERE NOT internal\nORDER BY dataset, column_index",
    ),
    Example(
        "Explain a query plan",
        ("quotes",),
        "EXPLAIN SELECT symbol, avg(price) FROM quotes GROUP BY symbol",
    ),
)


def available(views: Iterable[str]) -> list[Example]:
    """The examples whose views all exist."""
    present = set(views)
    return [e for e in EXAMPLES if set(e.needs) <= present]
