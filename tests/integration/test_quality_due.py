"""Completeness counts a value only where one is due: a lake with a short history (a new
deployment's first days) raises no false alarm for indicators still warming up, nor for the
actuals of earnings releases still to come, and a value missing where it is due still counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bucketpipe.catalog.datasets.bars import DAILY_INDICATORS, WARMUP
from bucketpipe.catalog.datasets.corporate import EARNINGS_CALENDAR
from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.duck import connect, quote_ident
from bucketpipe.quality.report import read_latest
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory
from tests.support.finnhub_fixtures import finnhub_overrides, run_ingest
from tests.support.finnhub_server import FREE_KEY, FakeFinnhub

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def content(spec_columns: tuple[str, ...]) -> list[str]:
    return [c for c in spec_columns if not c.startswith("_")]


def cells(
    con: Any, relation: str, columns: list[str], where: dict[str, str], extra: str = "count(*)"
) -> tuple[int, int, int]:
    """(filled cells where a value is due, cells where one is due, `extra`) by SQL: a column
    in `where` is due in the rows its condition holds, any other in every row."""
    due = " + ".join(
        f"count(*) FILTER (WHERE {where[c]})" if c in where else "count(*)" for c in columns
    )
    filled = " + ".join(
        f"count({quote_ident(c)}) FILTER (WHERE {where[c]})"
        if c in where
        else f"count({quote_ident(c)})"
        for c in columns
    )
    row = con.execute(f"SELECT {filled}, {due}, {extra} FROM {relation}").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def indicator_cells(con: Any) -> tuple[int, int, int]:
    """(filled cells where due, cells where due, rows) of daily_indicators."""
    bar = "count(*) OVER (PARTITION BY symbol ORDER BY day ROWS UNBOUNDED PRECEDING)"
    relation = f"(SELECT *, {bar} AS b FROM daily_indicators)"
    columns = content(DAILY_INDICATORS.column_names)
    return cells(con, relation, columns, {c: f"b >= {n}" for c, n in WARMUP.items()})


def calendar_cells(con: Any, today: date) -> tuple[int, int, int]:
    """(filled cells where due, cells where due, releases still to come) of the earnings
    calendar: an actual is due once its release day is over."""
    past = f"report_date < DATE '{today.isoformat()}'"
    columns = content(EARNINGS_CALENDAR.column_names)
    where = {c: past for c in columns if c.endswith("_actual")}
    return cells(con, "earnings_calendar", columns, where, f"count(*) FILTER (WHERE NOT {past})")


def test_indicators_are_scored_from_the_bar_each_has_a_value(
    lake_settings: SettingsFactory, make_context: Callable[[Settings], Context]
) -> None:
    settings = lake_settings()
    ctx = make_context(settings)
    ctx.clock = lambda: NOW
    ingest_demo(
        ctx, run_id="ingest-1", symbols=["AAPL", "MSFT"], days=12, interval_minutes=60,
        seed=7, defects=False,
    )  # fmt: skip
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    indicators = read_latest(ctx.store)["daily_indicators"]
    con = connect(settings)
    LakeReader(ctx.store).register_views(con)
    filled, due, rows = indicator_cells(con)
    assert rows == indicators.rows and due < rows * len(content(DAILY_INDICATORS.column_names))
    completeness = indicators.dimensions["completeness"]
    assert (completeness.numerator, completeness.denominator) == (filled, due)
    assert completeness.score == 100.0 and indicators.passed
    assert not any("empty" in r for r in indicators.recommendations), indicators.recommendations
    for profile in indicators.column_profiles:
        if profile.name in WARMUP:
            assert profile.due is not None and profile.due_filled == profile.due, profile.name
            assert profile.nulls == rows - profile.due, profile.name
        else:
            assert profile.due is None, profile.name


def test_a_new_deployment_s_first_day_raises_no_completeness_alarm(
    lake_settings: SettingsFactory,
    make_context: Callable[[Settings], Context],
    finnhub_server: FakeFinnhub,
) -> None:
    """A free key's first day: one bar a symbol (no candles on the plan), so no indicator has
    a value yet, and the calendar lists coming releases, whose actuals are not out."""
    overrides = finnhub_overrides(finnhub_server, finnhub_api_key=FREE_KEY)
    settings = lake_settings(**overrides, symbols=["AAPL", "MSFT", "NVDA"])
    ctx = make_context(settings)
    run_ingest(ctx, "ingest-1")
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    reports = read_latest(ctx.store)
    con = connect(settings)
    LakeReader(ctx.store).register_views(con)

    indicators = reports["daily_indicators"]
    filled, due, rows = indicator_cells(con)
    assert rows == indicators.rows > 0
    completeness = indicators.dimensions["completeness"]
    assert (completeness.numerator, completeness.denominator) == (filled, due)
    assert completeness.score == 100.0 and indicators.passed
    assert not any("empty" in r for r in indicators.recommendations), indicators.recommendations

    # Bars built from quotes alone have no volume (no candles on a free key): not missing.
    bars = reports["daily_bars"]
    volume = next(p for p in bars.column_profiles if p.name == "volume")
    assert (volume.nulls, volume.due, volume.due_filled) == (bars.rows, 0, 0)
    assert bars.dimensions["completeness"].score == 100.0 and bars.passed

    calendar = reports["earnings_calendar"]
    today = calendar.created_at.astimezone(UTC).date()
    filled, due, coming = calendar_cells(con, today)
    assert coming > 0
    completeness = calendar.dimensions["completeness"]
    assert (completeness.numerator, completeness.denominator) == (filled, due)
    assert completeness.passed
    assert not any("_actual" in r for r in calendar.recommendations), calendar.recommendations

    # The plan's 403s delivered nothing to score: no report of 0 rows reads as a perfect score.
    assert not {"candles", "dividends", "social_sentiment"} & set(reports), sorted(reports)
    assert all(report.rows > 0 for report in reports.values())
    # Nor any false alarm on the first day: every dataset delivered passes, and no column is
    # reported empty that the plan or the source leaves empty by definition (the overview's
    # volume without candles, the related symbols of general market news).
    assert [name for name, report in reports.items() if not report.passed] == []
    empty = [r for report in reports.values() for r in report.recommendations if "empty" in r]
    assert empty == []
