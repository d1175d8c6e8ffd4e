"""Generated history: the fast raw lines are the demo ingest's, byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from benchmarks.history import (
    HistorySpec,
    day_config,
    last_trading_day,
    symbols_for,
    tickers,
)
from benchmarks.rawlines import HISTORY_ENDPOINTS, day_lines
from bucketpipe.ingest.demo.generate import generate
from bucketpipe.lake.raw import encode_line

END = date(2026, 11, 20)  # a Friday


@pytest.mark.parametrize("defects", [True, False])
@pytest.mark.parametrize("day", [date(2026, 11, 16), date(2026, 11, 20), date(2026, 3, 2)])
def test_day_lines_equal_the_demo_ingest(defects: bool, day: date) -> None:
    spec = HistorySpec(symbols=9, days=5, end=END, defects=defects)
    config = day_config(spec, day)
    expected = b"".join(encode_line(r) for r in generate(config, "hist-x"))
    assert day_lines(config, "hist-x") == expected


def test_day_lines_with_other_intervals_and_seeds() -> None:
    spec = HistorySpec(symbols=3, days=1, end=END, interval_minutes=5, seed=42)
    config = day_config(spec, END)
    expected = b"".join(encode_line(r) for r in generate(config, "r-1"))
    assert day_lines(config, "r-1") == expected


def test_fast_path_refuses_other_endpoints() -> None:
    config = replace(day_config(HistorySpec(2, 1, END), END), endpoints=frozenset({"quote"}))
    with pytest.raises(ValueError, match="fast path"):
        day_lines(config, "r")


def test_history_covers_quotes_and_profiles_only() -> None:
    assert frozenset({"quote", "profile"}) == HISTORY_ENDPOINTS


def test_tickers_are_stable_unique_and_start_with_the_defaults() -> None:
    names = tickers(600)
    assert names[:3] == ["AAPL", "GOOGL", "MSFT"]
    assert len(set(names)) == 600
    assert names == tickers(600)
    assert "ZZZZQ" not in names  # the demo's unknown symbol
    assert all(n.isalpha() and n.isupper() for n in names)


def test_trading_days_of_a_year() -> None:
    spec = HistorySpec(symbols=1, days=365, end=END)
    assert len(spec.trading_days) == 261
    assert all(d.weekday() < 5 for d in spec.trading_days)


def test_symbols_for_a_record_count() -> None:
    per_symbol = 261 * 27  # trading days of a year x 15-minute snapshots a day
    assert symbols_for(per_symbol, 365, END) == 1
    assert symbols_for(per_symbol + 1, 365, END) == 2
    assert symbols_for(1_000_000, 365, END) == 142


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 22), date(2026, 11, 20)),  # Sunday -> Friday
        (date(2026, 11, 23), date(2026, 11, 20)),  # Monday -> Friday
        (date(2026, 11, 25), date(2026, 11, 24)),  # Wednesday -> Tuesday
    ],
)
def test_last_trading_day(today: date, expected: date) -> None:
    assert last_trading_day(today) == expected
