"""Re-ingesting the same days: quality scores what readers get, quarantine stores a rejected
row once, and daily bars follow the quotes they are built from (both lakes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake import quarantine
from bucketpipe.lake.duck import connect, quote_ident
from bucketpipe.quality.report import QualityReport, read_latest
from bucketpipe.serve.queries import quality
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration

ContextFactory = Callable[[Settings], Context]
FRIDAY_CLOSE = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
FRIDAY_MIDDAY = datetime(2026, 11, 20, 17, 40, tzinfo=UTC)  # 12:40 in New York: a session open
SYMBOLS = ["AAPL", "MSFT", "NVDA"]

# Every (symbol, New York day) with quotes, and whether its bar's close is the day's last
# quote price (bars come from candles on a paid key, from quotes otherwise: either way the
# demo's candles follow the quote path, so a bar from the same delivery agrees).
DISAGREEING_DAYS = """
WITH q AS (
  SELECT symbol, CAST(timezone('America/New_York', ts) AS DATE) AS day,
    arg_max(price, ts) AS last_price
  FROM quotes GROUP BY ALL
)
SELECT count(*), count(*) FILTER (WHERE b.close IS NULL OR abs(b.close - q.last_price) > 1e-6)
FROM q LEFT JOIN daily_bars AS b USING (symbol, day)
"""

# Every (symbol, New York day) whose bar does not span the day's committed quotes (their prices
# and the day high and low they report): a quote time whose newest delivery was rejected keeps
# the earlier delivery's values, and the bar must still contain them.
OUTSIDE_THE_BAR = """
WITH q AS (
  SELECT symbol, CAST(timezone('America/New_York', ts) AS DATE) AS day,
    least(min(price), min(low) FILTER (WHERE low > 0)) AS low,
    greatest(max(price), max(high) FILTER (WHERE high > 0)) AS high
  FROM quotes GROUP BY ALL
)
SELECT count(*) FILTER (WHERE b.low IS NULL OR q.low < b.low - 1e-6 OR q.high > b.high + 1e-6)
FROM q LEFT JOIN daily_bars AS b USING (symbol, day)
"""


def demo(ctx: Context, run_id: str, seed: int, *, defects: bool = True) -> None:
    ingest_demo(
        ctx,
        run_id=run_id,
        symbols=SYMBOLS,
        days=10,
        interval_minutes=15,
        seed=seed,
        defects=defects,
    )


def context_at(
    make_context: ContextFactory, settings: Settings, now: datetime = FRIDAY_CLOSE
) -> Context:
    ctx = make_context(settings)
    ctx.clock = lambda: now
    return ctx


def failing(reports: dict[str, QualityReport]) -> dict[str, list[str]]:
    return {
        name: sorted(d for d, dim in r.dimensions.items() if not dim.passed)
        for name, r in reports.items()
        if not r.passed
    }


def quarantined(ctx: Context, settings: Settings) -> dict[str, int]:
    with connect(settings) as con:
        return {q.dataset: q.rows for q in quarantine.summary(ctx.store, con)}


def test_overlapping_reingest_raises_no_false_alarm(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    # The control: the same days ingested once.
    once = context_at(make_context, lake_settings())
    demo(once, "ingest-1", seed=7)
    run_clean(once, after_clean=AFTER_CLEAN, run_id="clean-1")
    expected = read_latest(once.store)
    # The same days twice in one clean run, then a third time on their own.
    settings = lake_settings(lake=f"{once.settings.lake}-again")
    twice = context_at(make_context, settings)
    demo(twice, "ingest-1", seed=7)
    demo(twice, "ingest-2", seed=7)
    run_clean(twice, after_clean=AFTER_CLEAN, run_id="clean-1")
    reports = read_latest(twice.store)
    assert set(reports) == set(expected)
    # Zero false alarms: what fails fails for the committed data too (the demo's unknown
    # symbol), and every score is the single delivery's score.
    assert failing(reports) == failing(expected)
    for name, report in reports.items():
        assert report.dimensions["uniqueness"].score == 100.0, name
        assert report.overall_score == expected[name].overall_score, name
        assert not any("delivers duplicates" in r for r in report.recommendations), name
    # The repeats are information: counted as duplicates removed.
    assert reports["quotes"].rows_duplicate >= expected["quotes"].rows
    assert any("duplicates removed" in s for s in reports["quotes"].steps)
    # Each rejected row is stored once, however often it was delivered.
    assert quarantined(twice, settings) == quarantined(once, once.settings)
    demo(twice, "ingest-3", seed=7)
    third = run_clean(twice, after_clean=AFTER_CLEAN, run_id="clean-2")
    assert third is not None
    assert third.datasets["quotes"].rows_quarantined == 0
    assert quarantined(twice, settings) == quarantined(once, once.settings)
    again = read_latest(twice.store)
    assert again["quotes"].run_id == "clean-2"
    assert failing(again) == failing(expected)
    assert again["quotes"].dimensions["validity"].score == (
        expected["quotes"].dimensions["validity"].score
    )


@pytest.mark.parametrize("now", [FRIDAY_CLOSE, FRIDAY_MIDDAY], ids=["after-close", "mid-session"])
def test_bars_follow_quotes_after_a_reingest_with_another_seed(
    lake_settings: SettingsFactory, make_context: ContextFactory, now: datetime
) -> None:
    settings = lake_settings()
    ctx = context_at(make_context, settings, now)
    # A first delivery without defects, then another seed's with them: seed 13's delivery
    # rejects some closing quotes, so the first delivery's closes are kept against its
    # candles, and it moves release dates across a month boundary.
    demo(ctx, "ingest-1", seed=7, defects=False)
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    demo(ctx, "ingest-2", seed=13)
    second = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-2")
    assert second is not None
    # The new delivery replaced the quotes, and the bars of their days were recomputed in
    # the same run.
    assert second.datasets["quotes"].rows_replaced > 0
    assert second.datasets["daily_bars"].snapshot_version is not None
    assert second.datasets["daily_indicators"].snapshot_version is not None
    con = connect(settings)
    LakeReader(ctx.store).register_views(con)
    row = con.execute(DISAGREEING_DAYS).fetchone()
    assert row is not None
    days, disagreeing = row
    assert days > 0 and disagreeing == 0
    assert con.execute(OUTSIDE_THE_BAR).fetchone() == (0,)
    # Indicators were computed from the bars as committed now.
    stale = con.execute(
        "SELECT count(*) FROM daily_bars AS b LEFT JOIN daily_indicators AS i "
        "USING (symbol, day) WHERE i.close IS NULL OR abs(i.close - b.close) > 1e-9"
    ).fetchone()
    assert stale == (0,)
    # A bar labelled `candle` is its candle; one widened to kept quotes, or closed by one,
    # says so.
    mislabelled = con.execute(
        "SELECT count(*) FILTER (WHERE b.source = 'candle' AND (b.high <> c.high OR b.low <> "
        "c.low OR b.close <> c.close)), count(*) FILTER (WHERE b.source = 'candle+quotes' AND "
        "b.high = c.high AND b.low = c.low AND b.close = c.close) FROM daily_bars AS b "
        "JOIN candles AS c ON c.symbol = b.symbol AND c.resolution = 'D' "
        "AND CAST(timezone('UTC', c.ts) AS DATE) = b.day"
    ).fetchone()
    assert mislabelled == (0, 0)
    widened = con.execute("SELECT count(*) FROM daily_bars WHERE source = 'candle+quotes'")
    assert widened.fetchone() != (0,)
    # The market page's day range is the newest bar's: the overview and the bars agree.
    overview = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE o.high <> b.high OR o.low <> b.low "
        "OR o.open <> b.open) FROM market_overview AS o JOIN daily_bars AS b "
        "ON b.symbol = o.symbol AND b.day = CAST(timezone('America/New_York', o.ts) AS DATE)"
    ).fetchone()
    assert overview is not None and overview[0] == len(SYMBOLS) and overview[1] == 0
    # One row per company and fiscal quarter, though the other seed moved the release dates.
    quarters = con.execute(
        "SELECT count(*), count(DISTINCT (symbol, year, quarter)) FROM earnings_calendar"
    ).fetchone()
    assert quarters is not None and quarters[0] > 0 and quarters[0] == quarters[1]
    # One row per company going public, though the other seed moved the IPO dates.
    listings = con.execute("SELECT count(*), count(DISTINCT listing) FROM ipo_calendar").fetchone()
    assert listings is not None and listings[0] > 0 and listings[0] == listings[1]


def test_quality_counts_after_incremental_cleans(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    settings = lake_settings()
    ctx = context_at(make_context, settings)
    demo(ctx, "ingest-1", seed=7)
    demo(ctx, "ingest-2", seed=7)
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    # The input adds up: written, duplicates, distinct rejected rows and their repeats.
    for name, report in read_latest(ctx.store).items():
        if report.kind == "catalog":
            parts = report.rows_written + report.rows_duplicate + report.rows_quarantined
            assert report.rows_in == parts + report.rows_rejected_repeated, name
    quotes = read_latest(ctx.store)["quotes"]
    assert quotes.rows_quarantined > 0 and quotes.rows_rejected_repeated > 0
    assert not any("duplicates removed" in r for r in quotes.recommendations)
    assert any("duplicates removed" in n for n in quotes.notes)
    # A later, smaller delivery: its report scores what it delivered, not the dataset.
    ingest_demo(ctx, run_id="ingest-3", symbols=SYMBOLS, days=2, interval_minutes=15, seed=8)
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-2")
    reports = read_latest(ctx.store)
    reader = LakeReader(ctx.store)
    committed = {name: snap.rows for name in reports if (snap := reader.snapshot(name))}
    table = quality.overview(reports, committed).set_index("dataset")
    con = connect(settings)
    reader.register_views(con)
    for name in reports:
        row = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()
        assert row is not None and table.loc[name, "rows"] == row[0], name
    assert reports["quotes"].run_id == "clean-2"
    assert table.loc["quotes", "rows_assessed"] == reports["quotes"].rows < committed["quotes"]


QUOTES = "SELECT symbol, ts, price, open, high, low, prev_close FROM quotes ORDER BY ALL"
BARS = "SELECT symbol, day, open, high, low, close, volume, source FROM daily_bars ORDER BY ALL"


def test_a_reingest_with_another_seed_leaves_no_quote_of_the_first(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    # The demo damages the same ticks under every seed, so a re-delivery of the same days by
    # another seed commits exactly what that seed alone commits: no quote of the first seed
    # stays where the second one's was rejected (it read as a spike of another market).
    alone = context_at(make_context, lake_settings())
    demo(alone, "ingest-1", seed=13)
    run_clean(alone, after_clean=AFTER_CLEAN, run_id="clean-1")
    settings = lake_settings(lake=f"{alone.settings.lake}-reingested")
    again = context_at(make_context, settings)
    demo(again, "ingest-1", seed=7)
    run_clean(again, after_clean=AFTER_CLEAN, run_id="clean-1")
    demo(again, "ingest-2", seed=13)
    second = run_clean(again, after_clean=AFTER_CLEAN, run_id="clean-2")
    assert second is not None and second.datasets["quotes"].rows_quarantined > 0
    views = []
    for ctx in (alone, again):
        con = connect(ctx.settings)
        LakeReader(ctx.store).register_views(con)
        views.append(con)
    expected = views[0].execute(QUOTES).fetchall()
    assert expected and views[1].execute(QUOTES).fetchall() == expected
    bars = views[0].execute(BARS).fetchall()
    assert bars and views[1].execute(BARS).fetchall() == bars
    # The day's newest quote is never a demo defect, so every bar closes at its day's last
    # quote, in a single delivery as after the re-ingest.
    for con in views:
        row = con.execute(DISAGREEING_DAYS).fetchone()
        assert row is not None and row[0] > 0 and row[1] == 0
