"""Demo ingest -> clean -> every Finnhub dataset, daily bars and indicators, on both lakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pytest

from bucketpipe import catalog
from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.demo.generate import SOURCE, DemoConfig, generate
from bucketpipe.ingest.run import commit_ingest
from bucketpipe.lake.duck import connect, quote_ident
from bucketpipe.lake.raw import RawWriter
from bucketpipe.lake.runs import RunManifest
from bucketpipe.lake.storage import scratch_dir
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration

ContextFactory = Callable[[Settings], Context]
SYMBOLS = ["AAPL", "MSFT"]
FRIDAY_AFTERNOON = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # the market is open
MONDAY_MORNING = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
INDICATOR_COLUMNS = [
    "symbol", "day", "open", "high", "low", "close", "sma_5", "sma_20", "sma_50", "ema_12",
    "ema_26", "rsi_14", "macd", "macd_signal", "macd_hist", "bb_middle", "bb_upper", "bb_lower",
    "daily_return", "volatility_20",
]  # fmt: skip


def land(ctx: Context, run_id: str, **overrides: Any) -> RunManifest:
    """One demo ingest run at the context's clock."""
    values: dict[str, Any] = {
        "symbols": SYMBOLS,
        "days": 10,
        "interval_minutes": 30,
        "seed": 7,
        "end": ctx.now(),
        "history_days": 90,
    }
    values.update(overrides)
    writer = RawWriter(scratch_dir(ctx.settings.temp_dir))
    for record in generate(DemoConfig(**values), run_id):
        writer.write(record)
    return commit_ingest(ctx, source=SOURCE, run_id=run_id, writer=writer, started_at=ctx.now())


def at(make_context: ContextFactory, settings: Settings, when: datetime) -> Context:
    ctx = make_context(settings)
    ctx.clock = lambda: when
    return ctx


def views(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = connect(settings)
    LakeReader(Context.from_settings(settings).store).register_views(con)
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def duplicate_keys(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    out = {}
    for spec in catalog.specs():
        keys = ", ".join(quote_ident(k) for k in spec.primary_key)
        out[spec.name] = scalar(
            con,
            f"SELECT count(*) - count(DISTINCT ({keys})) FROM {quote_ident(spec.name)}",
        )
    return out


def test_every_dataset_is_queryable_and_a_second_run_adds_no_duplicates(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    settings = lake_settings()
    friday = at(make_context, settings, FRIDAY_AFTERNOON)
    land(friday, "ingest-1")
    first = run_clean(friday, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert first is not None and first.status == "succeeded"
    con = views(settings)
    for spec in catalog.specs():
        assert scalar(con, f"SELECT count(*) FROM {quote_ident(spec.name)}") > 0, spec.name
    assert first.datasets["daily_bars"].rows_written == scalar(con, "SELECT count(*) FROM candles")
    described = con.execute("DESCRIBE daily_indicators").fetchall()
    columns = [str(r[0]) for r in described if not str(r[0]).startswith("_") and r[0] != "dt"]
    assert columns == INDICATOR_COLUMNS
    # 90 days of candles: every indicator is defined on the last day.
    last = con.execute(
        f"SELECT {', '.join(INDICATOR_COLUMNS)} FROM daily_indicators WHERE day = DATE '2026-11-20'"
    ).fetchall()
    assert len(last) == 2 and all(value is not None for row in last for value in row)

    monday = at(make_context, settings, MONDAY_MORNING)
    land(monday, "ingest-2")  # overlaps Friday's window
    second = run_clean(monday, after_clean=AFTER_CLEAN, run_id="clean-2")
    assert second is not None and second.status == "succeeded"
    con = views(settings)
    assert duplicate_keys(con) == {spec.name: 0 for spec in catalog.specs()}
    for name in ("company_news", "market_news", "insider_transactions", "dividends"):
        assert second.datasets[name].rows_duplicate > 0, name
    # Friday's bars were provisional until Monday's run finished the day.
    finals = dict(con.execute("SELECT day, bool_and(final) FROM daily_bars GROUP BY 1").fetchall())
    assert finals[date(2026, 11, 20)] is True and finals[date(2026, 11, 23)] is False
    assert second.datasets["daily_indicators"].rows_written > 0


def test_the_demo_defects_are_quarantined_with_reasons(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    settings = lake_settings()
    ctx = at(make_context, settings, FRIDAY_AFTERNOON)
    land(ctx, "ingest-1", defects=True)
    manifest = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert manifest is not None
    reasons = {
        name: set(result.model_dump().get("quarantine_reasons", {}))
        for name, result in manifest.datasets.items()
    }
    assert "missing headline" in reasons["market_news"]
    assert "unknown symbol: no metrics" in reasons["basic_financials"]
    assert manifest.datasets["company_news"].rows_duplicate == 1  # the repeated article
    con = views(settings)
    missing = con.execute(
        "SELECT symbol, actual, surprise FROM earnings WHERE estimate IS NULL"
    ).fetchall()
    assert len(missing) == 1 and missing[0][1] is not None and missing[0][2] is None
    assert scalar(con, "SELECT count(*) FROM candles WHERE symbol = 'ZZZZQ'") == 0


def test_bars_are_built_from_quotes_without_candles(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    settings = lake_settings()
    ctx = at(make_context, settings, FRIDAY_AFTERNOON)
    land(ctx, "ingest-free", premium=False, defects=False)
    manifest = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert manifest is not None and "candles" not in manifest.datasets
    con = views(settings)
    assert scalar(con, "SELECT count(*) FROM daily_bars WHERE source <> 'quotes'") == 0
    assert scalar(con, "SELECT count(*) FROM daily_bars WHERE volume IS NOT NULL") == 0
    bars = {
        (s, d): (o, h, low, c, n, f)
        for s, d, o, h, low, c, n, f in con.execute(
            "SELECT symbol, day, open, high, low, close, n_quotes, final FROM daily_bars"
        ).fetchall()
    }
    # The quote path and the candles of a paid key describe the same days.
    premium = DemoConfig(
        symbols=SYMBOLS, days=10, interval_minutes=30, seed=7, end=FRIDAY_AFTERNOON,
        history_days=10, defects=False, endpoints=frozenset({"candles"}),
    )  # fmt: skip
    expected = {}
    for record in generate(premium, "reference"):
        body = record.body
        for i, t in enumerate(body["t"]):
            day = datetime.fromtimestamp(t, UTC).date()
            key = (record.params["symbol"], day)
            expected[key] = (body["o"][i], body["h"][i], body["l"][i], body["c"][i])
    assert set(bars) == set(expected)
    for key, values in expected.items():
        assert bars[key][:4] == pytest.approx(values), key
        assert bars[key][4] == (14 if key[1] != FRIDAY_AFTERNOON.date() else 8)
        assert bars[key][5] is (key[1] != FRIDAY_AFTERNOON.date())

    # Candles arriving later replace the quote-built bars of their days.
    later = at(make_context, settings, datetime(2026, 11, 20, 22, 0, tzinfo=UTC))
    land(later, "ingest-paid", defects=False, history_days=10)
    run_clean(later, after_clean=AFTER_CLEAN, run_id="clean-2")
    con = views(settings)
    sources = dict(con.execute("SELECT source, count(*) FROM daily_bars GROUP BY 1").fetchall())
    assert sources == {"candle": len(expected)}
    assert scalar(con, "SELECT count(*) FROM daily_bars WHERE volume IS NULL") == 0


def test_bars_missed_by_a_failed_derivation_are_caught_up(
    make_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    """A clean run that commits its datasets but dies before deriving bars: the next run
    derives them, whichever run committed the quotes."""
    settings = make_settings()
    friday = at(make_context, settings, FRIDAY_AFTERNOON)
    land(friday, "ingest-1", premium=False, defects=False)
    first = run_clean(friday, after_clean=(), run_id="clean-1")  # the derivation never happens
    assert first is not None and "daily_bars" not in first.datasets
    monday = at(make_context, settings, MONDAY_MORNING)
    land(monday, "ingest-2", premium=False, defects=False, days=1)
    second = run_clean(monday, after_clean=AFTER_CLEAN, run_id="clean-2")
    assert second is not None
    con = views(settings)
    days = [r[0] for r in con.execute("SELECT DISTINCT day FROM daily_bars ORDER BY 1").fetchall()]
    assert days[0] == date(2026, 11, 11) and days[-1] == date(2026, 11, 23)
    assert len(days) == 9  # eight trading days of the first run, Monday of the second
    assert scalar(con, "SELECT count(DISTINCT symbol) FROM daily_indicators") == 2
    # Half an hour later only Monday's two bars are recomputed, and replace the earlier ones.
    third = at(make_context, settings, datetime(2026, 11, 23, 15, 30, tzinfo=UTC))
    land(third, "ingest-3", premium=False, defects=False, days=1)
    after = run_clean(third, after_clean=AFTER_CLEAN, run_id="clean-3")
    assert after is not None
    bars = after.datasets["daily_bars"]
    assert (bars.rows_in, bars.rows_replaced, bars.rows_written) == (2, 2, 2)
