"""The `market_overview` dataset on both lakes: clean keeps it equal to what the market page
would compute, and a reader never uses it while it lags behind its inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from bucketpipe.clean import overview
from bucketpipe.clean.job import DatasetHook, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.snapshots import read_current
from bucketpipe.maintain.compaction import run_compaction
from bucketpipe.serve.queries import market
from bucketpipe.serve.queries.base import views
from bucketpipe.serve.queries.session import LakeSession
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.integration

SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA"]
MONDAY_NOON = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def step(
    ctx: Context, when: datetime, run: str, after_clean: Sequence[DatasetHook] = AFTER_CLEAN
) -> None:
    """One demo ingest (10 days of 4 symbols up to `when`) and the clean run after it."""
    ctx.clock = lambda: when
    ingest_demo(ctx, run_id=f"ingest-{run}", symbols=SYMBOLS, days=10, interval_minutes=15, seed=7)
    assert run_clean(ctx, after_clean=after_clean, run_id=f"clean-{run}") is not None


def answers(session: LakeSession) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """(the page's answer, the answer computed from the inputs, whether the overview is used)."""
    session.sync()
    with session.cursor() as cursor:
        used = market.OVERVIEW in views(cursor)
        return market.latest_quotes(cursor), market.compute_latest_quotes(cursor), used


def test_overview_matches_the_live_answer_and_is_hidden_while_behind(
    lake_settings: SettingsFactory,
    make_context: Callable[[Settings], Context],
) -> None:
    settings = lake_settings()
    ctx = make_context(settings)
    session = LakeSession(settings, ctx.store, ctx.signals)

    step(ctx, MONDAY_NOON, "1")
    page, live, used = answers(session)
    assert used and len(page) == 4
    pd.testing.assert_frame_equal(page, live)
    first = read_current(ctx.store, market.OVERVIEW)
    assert first is not None and first.rows == 4
    quotes = read_current(ctx.store, "quotes")
    assert quotes is not None and first.details["inputs"]["quotes"] == quotes.content_version

    # A clean run that stops before the overview step: quotes move on, the overview does not.
    without = [h for h in AFTER_CLEAN if h is not overview.update_overview]
    step(ctx, MONDAY_NOON + timedelta(hours=2), "2", after_clean=without)
    assert read_current(ctx.store, market.OVERVIEW) == first
    page, live, used = answers(session)
    assert not used  # hidden: the page computes the answer from the new quotes
    pd.testing.assert_frame_equal(page, live)
    assert page["ts"].max() > pd.Timestamp(MONDAY_NOON)

    # The next complete run catches up, whatever its own inputs were.
    step(ctx, MONDAY_NOON + timedelta(hours=3), "3")
    page, live, used = answers(session)
    assert used
    pd.testing.assert_frame_equal(page, live)
    newest = read_current(ctx.store, market.OVERVIEW)
    assert newest is not None and newest.version > first.version
    assert newest.run_id == "clean-3"
    ctx.close()


def test_compaction_changes_versions_not_rows_and_hides_nothing(
    make_settings: SettingsFactory, make_context: Callable[[Settings], Context]
) -> None:
    ctx = make_context(make_settings(clean_small_file_mb=0))  # each run adds a file
    session = LakeSession(ctx.settings, ctx.store, ctx.signals)
    step(ctx, MONDAY_NOON, "1")
    step(ctx, MONDAY_NOON + timedelta(hours=2), "2")  # the quarter's partition now has two files
    before = {n: read_current(ctx.store, n) for n in ("quotes", market.OVERVIEW)}
    ctx.clock = lambda: datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # the fourth quarter is closed
    manifest = run_compaction(ctx, run_id="compact-1")
    assert manifest.details["datasets"]["quotes"]["partitions"] > 0
    quotes = read_current(ctx.store, "quotes")
    assert quotes is not None and before["quotes"] is not None
    assert quotes.version > before["quotes"].version
    assert quotes.content_version == before["quotes"].content_version
    compacted = read_current(ctx.store, market.OVERVIEW)
    assert (
        compacted is not None
        and compacted.details["inputs"] == before[market.OVERVIEW].details["inputs"]
    )  # type: ignore[union-attr]
    page, live, used = answers(session)
    assert used
    pd.testing.assert_frame_equal(page, live)
    ctx.close()
