"""End to end on both lakes: demo ingest -> event -> clean -> snapshot -> DuckDB query."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bucketpipe.clean.job import GROUP, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.demo.generate import close_price
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.duck import connect
from bucketpipe.lake.runs import RunManifest
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import RedisServer, SettingsFactory

pytestmark = pytest.mark.integration

FRIDAY_CLOSE = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
SYMBOLS = ["AAPL", "MSFT"]
# 10 calendar days ending Friday 2026-11-20 hold 8 trading days; 14:30-21:00 every 15 min is
# 27 snapshots a day.
QUOTES_PER_SYMBOL = 8 * 27

ContextFactory = Callable[[Settings], Context]


def at(make_context: ContextFactory, settings: Settings, when: datetime = FRIDAY_CLOSE) -> Context:
    ctx = make_context(settings)
    ctx.clock = lambda: when
    return ctx


def demo(ctx: Context, run_id: str, *, defects: bool = False, **kw: Any) -> RunManifest | None:
    return ingest_demo(
        ctx,
        run_id=run_id,
        symbols=SYMBOLS,
        days=10,
        interval_minutes=15,
        seed=7,
        defects=defects,
        **kw,
    )


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = connect(settings)
    LakeReader(Context.from_settings(settings).store).register_views(con)
    return con.execute(sql).fetchall()


def test_demo_ingest_clean_query(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    settings = lake_settings()
    ctx = at(make_context, settings)
    manifest = demo(ctx, "ingest-1")
    assert manifest is not None and manifest.status == "succeeded"
    assert manifest.outputs == ["raw/demo/dt=2026-11-20/ingest-1.jsonl.gz"]
    cleaned = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert cleaned is not None and cleaned.inputs == ["ingest-1"]
    assert cleaned.datasets["quotes"].rows_written == QUOTES_PER_SYMBOL * 2
    # The run's rows are the data it committed, not its quality reports (one row each).
    reports = cleaned.datasets["quality_reports"].rows_written
    assert reports > 0
    everything = sum(r.rows_written for r in cleaned.datasets.values())
    assert cleaned.rows == everything - reports
    rows = query(settings, "SELECT symbol, count(*) FROM quotes GROUP BY 1 ORDER BY 1")
    assert rows == [("AAPL", QUOTES_PER_SYMBOL), ("MSFT", QUOTES_PER_SYMBOL)]
    latest = query(
        settings,
        "SELECT symbol, arg_max(price, ts), max(ts) FROM quotes GROUP BY 1 ORDER BY 1",
    )
    for symbol, price, ts in latest:
        assert ts == FRIDAY_CLOSE
        assert price == close_price(7, symbol, FRIDAY_CLOSE.date())
    profiles = query(settings, "SELECT symbol, name FROM company_profiles ORDER BY 1")
    assert profiles == [("AAPL", "Apple Inc"), ("MSFT", "Microsoft Corp")]
    # Eight trading days of quotes, in one partition per month (dt is the month's first day).
    days = query(
        settings,
        "SELECT count(DISTINCT CAST(ts AS DATE)), count(DISTINCT dt), "
        "count(DISTINCT date_trunc('month', CAST(ts AS DATE))), bool_and(day(dt) = 1) FROM quotes",
    )
    assert days[0][0] == 8 and days[0][1] == days[0][2] and days[0][3] is True


def test_rerunning_a_run_id_adds_nothing(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    settings = lake_settings()
    ctx = at(make_context, settings)
    demo(ctx, "ingest-1")
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert demo(ctx, "ingest-1") is None
    assert run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1") is None
    assert run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-2") is None  # nothing pending
    # A new run over an overlapping window: only the new snapshots are added.
    later = at(make_context, settings, datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # Monday
    demo(later, "ingest-2")
    second = run_clean(later, after_clean=AFTER_CLEAN, run_id="clean-3")
    assert second is not None
    assert second.datasets["quotes"].rows_written == 2 * 3  # Monday 14:30, 14:45, 15:00
    # The window now starts on Saturday 14th: Mon 16th..Fri 20th were committed already.
    assert second.datasets["quotes"].rows_duplicate == 2 * 5 * 27
    total, distinct = query(settings, "SELECT count(*), count(DISTINCT (symbol, ts)) FROM quotes")[
        0
    ]
    assert total == distinct == 2 * (QUOTES_PER_SYMBOL + 3)


def test_defects_are_quarantined_with_reasons(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    settings = lake_settings()
    ctx = at(make_context, settings)
    demo(ctx, "ingest-1", defects=True)
    cleaned = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert cleaned is not None
    quotes = cleaned.datasets["quotes"]
    assert quotes.rows_quarantined > 0
    assert quotes.rows_in == quotes.rows_written + quotes.rows_quarantined + quotes.rows_duplicate
    reasons = quotes.model_dump().get("quarantine_reasons", {})
    assert "unknown symbol: all-zero quote" in reasons
    keys = [i.key for i in ctx.store.list_objects("quarantine/quotes/")]
    assert keys == ["quarantine/quotes/dt=2026-11-20/clean-1.parquet"]
    con = connect(settings)
    path = ctx.store.duckdb_path(keys[0])
    stored = con.execute(
        f"SELECT count(*), count(_reject_reason), count(_ingest_run) FROM read_parquet('{path}')"
    ).fetchone()
    assert stored == (quotes.rows_quarantined,) * 3
    # No quarantined row made it into the dataset.
    bad = query(settings, "SELECT count(*) FROM quotes WHERE price <= 0 OR symbol = 'ZZZZQ'")
    assert bad == [(0,)]


def test_events_status_and_versions_with_redis(
    lake_settings: SettingsFactory, make_context: ContextFactory, redis_url: str
) -> None:
    settings = lake_settings(redis_url=redis_url)
    ctx = at(make_context, settings)
    demo(ctx, "ingest-1")
    events = ctx.signals.recent_events(5)
    assert [(e.kind, e.run_id) for e in events] == [("ingest.committed", "ingest-1")]
    cleaned = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert cleaned is not None and cleaned.redis == "ok"
    assert ctx.signals.pending_count(GROUP) == 0  # the ingest event was acked after commit
    kinds = [e.kind for e in ctx.signals.recent_events(5)]
    assert kinds[0] == "clean.committed"
    assert ctx.signals.get_status("clean")["state"] == "succeeded"
    assert ctx.signals.get_status("ingest-demo")["state"] == "succeeded"
    versions = ctx.signals.versions()
    assert versions is not None and versions["quotes"] == 1


def test_redis_down_loses_nothing(
    lake_settings: SettingsFactory,
    make_context: ContextFactory,
    redis_server: RedisServer,
    redis_url: str,
) -> None:
    settings = lake_settings(redis_url=redis_url, redis_timeout_seconds=0.5)
    ctx = at(make_context, settings)
    demo(ctx, "ingest-1")  # announced on the stream
    redis_server.stop()
    try:
        down = at(make_context, settings, datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
        second = demo(down, "ingest-2")
        assert second is not None and second.redis == "unavailable"
        cleaned = run_clean(down, after_clean=AFTER_CLEAN, run_id="clean-1")
        assert cleaned is not None and cleaned.redis == "unavailable"
        assert sorted(cleaned.inputs) == ["ingest-1", "ingest-2"]
    finally:
        redis_server.start()  # back, and empty
    back = at(make_context, settings, datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    demo(back, "ingest-3")
    again = run_clean(back, after_clean=AFTER_CLEAN, run_id="clean-2")
    assert again is not None and again.inputs == ["ingest-3"] and again.redis == "ok"
    assert back.signals.pending_count(GROUP) == 0
    total, distinct = query(settings, "SELECT count(*), count(DISTINCT (symbol, ts)) FROM quotes")[
        0
    ]
    assert total == distinct == 2 * (QUOTES_PER_SYMBOL + 7)  # Monday 14:30 .. 16:00
    assert back.signals.get_status("clean")["run_id"] == "clean-2"


def test_crashed_writer_leftovers_are_ignored(
    lake_settings: SettingsFactory, make_context: ContextFactory
) -> None:
    """Files, and a version document of the protocol before create-if-absent commits (made
    visible only by current.json, so never committed), written by a run that died."""
    from bucketpipe.lake.layout import snapshot_key
    from bucketpipe.lake.snapshots import read_current

    settings = lake_settings()
    ctx = at(make_context, settings)
    demo(ctx, "ingest-1")
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    current = read_current(ctx.store, "quotes")
    assert current is not None
    ctx.store.put("clean/quotes/dt=2026-11-20/dead-run-v2-0.parquet", b"not parquet")
    ctx.store.put(
        snapshot_key("quotes", current.version + 1),
        current.model_copy(update={"version": current.version + 1, "protocol": 1})
        .model_dump_json()
        .encode(),
    )
    later = at(make_context, settings, datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    demo(later, "ingest-2")
    cleaned = run_clean(later, after_clean=AFTER_CLEAN, run_id="clean-2")
    assert cleaned is not None
    # The leftover's number is burnt: the next commit steps over it.
    assert cleaned.datasets["quotes"].snapshot_version == current.version + 2
    assert query(settings, "SELECT count(*) FROM quotes") == [(2 * (QUOTES_PER_SYMBOL + 3),)]
