"""Sharded ingest: a stable split, market data on shard 0, one commit per shard, and the
shared Redis rate limit keeping every shard together under the plan."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bucketpipe.config.settings import DEFAULT_SYMBOLS, Settings
from bucketpipe.context import Context
from bucketpipe.ingest.finnhub.run import RunOutcome
from bucketpipe.ingest.finnhub.shard import Shard
from bucketpipe.lake.raw import read_lines
from tests.conftest import SettingsFactory
from tests.support.finnhub_fixtures import finnhub_overrides, run_ingest
from tests.support.finnhub_server import FakeFinnhub

pytestmark = pytest.mark.integration

DATASETS = ("quotes", "company_profiles", "earnings", "recommendations", "market_news",
            "ipo_calendar", "earnings_calendar")  # fmt: skip
PER_SECOND = 8
MARKET = {"market_news", "ipo_calendar", "earnings_calendar"}


def run_shards(contexts: list[Context], run_id: str) -> list[RunOutcome]:
    """Every shard at once, each in its own thread like pods of an Indexed Job."""
    outcomes: dict[int, RunOutcome] = {}
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            shard = Shard(index, len(contexts))
            outcomes[index] = run_ingest(contexts[index], run_id, shard=shard, datasets=DATASETS)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(contexts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return [outcomes[i] for i in range(len(contexts))]


def quota_use(server: FakeFinnhub) -> float:
    times = sorted(r.at for r in server.requests())
    return (len(times) - 1) / ((times[-1] - times[0]) * PER_SECOND)


def check_shards(outcomes: list[RunOutcome], ctx: Context, server: FakeFinnhub) -> None:
    symbols: list[str] = []
    for index, outcome in enumerate(outcomes):
        manifest = outcome.manifest
        assert manifest is not None
        assert (manifest.shard, manifest.shards, manifest.input_id) == (
            index,
            2,
            f"sharded-{index}",
        )
        assert manifest.status == "succeeded" and outcome.failed_calls == 0
        (key,) = manifest.outputs
        assert key.endswith(f"/sharded-{index}.jsonl.gz")
        lines = list(read_lines(ctx.store.get(key)))
        market = {ln["endpoint"] for ln in lines} & MARKET
        assert market == (MARKET if index == 0 else set())
        assert all(ln["run"] == f"sharded-{index}" for ln in lines)
        mine = sorted({ln["params"]["symbol"] for ln in lines if "symbol" in ln["params"]})
        assert mine == sorted(Shard(index, 2).symbols(DEFAULT_SYMBOLS))
        symbols += mine
    assert sorted(symbols) == sorted(DEFAULT_SYMBOLS)
    assert sorted(ctx.runlog.ids("ingest")) == ["sharded-0", "sharded-1"]


def test_two_shards_share_the_redis_limit_and_never_exceed_it(
    lake_settings: SettingsFactory,
    make_context: Callable[[Settings], Context],
    redis_url: str,
) -> None:
    with FakeFinnhub(per_second=PER_SECOND, per_minute=100_000) as server:
        overrides = finnhub_overrides(
            server, redis_url=redis_url, finnhub_calls_per_second=PER_SECOND,
            finnhub_calls_per_minute=100_000,
        )  # fmt: skip
        contexts = [make_context(lake_settings(**overrides)) for _ in range(2)]
        outcomes = run_shards(contexts, "sharded")
    assert server.rate_limited == 0
    assert server.token_in_url == 0
    assert server.max_in_window(1.0) <= PER_SECOND
    assert all(o.manifest and o.manifest.details["rate_limit"] == "redis" for o in outcomes)
    check_shards(outcomes, contexts[0], server)
    use = quota_use(server)
    print(f"two shards, shared Redis limit: {len(server.requests())} calls, quota use {use:.0%}")
    # The shared limit must not starve the shards: a limiter that counted each call twice would
    # give at most half. The design figure, (8 - 1) / 8, is measured by the ingest benchmark
    # (99.2%); here a loaded machine's scheduling must not fail the test.
    assert use > 0.5


def test_without_redis_each_shard_keeps_to_its_share(
    make_settings: SettingsFactory, make_context: Callable[[Settings], Context]
) -> None:
    with FakeFinnhub(per_second=PER_SECOND, per_minute=100_000) as server:
        overrides = finnhub_overrides(
            server, finnhub_calls_per_second=PER_SECOND, finnhub_calls_per_minute=100_000
        )
        contexts = [make_context(make_settings(**overrides)) for _ in range(2)]
        outcomes = run_shards(contexts, "sharded")
    assert server.rate_limited == 0
    assert server.max_in_window(1.0) <= PER_SECOND
    assert all(o.manifest and o.manifest.details["rate_limit"] == "local" for o in outcomes)
    check_shards(outcomes, contexts[0], server)
    print(f"two shards, local halves: quota use {quota_use(server):.0%}")


def test_each_shard_keeps_its_own_state(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    ctx = make_context(make_settings(**finnhub_overrides(finnhub_server)))
    run_shards([ctx, ctx], "sharded")
    market = json.loads(ctx.store.get("_state/finnhub/market.json"))
    assert set(market["fetched"]) >= {"ipo_calendar", "earnings_calendar", "market_news:general"}
    for symbol in DEFAULT_SYMBOLS:
        doc: dict[str, Any] = json.loads(ctx.store.get(f"_state/finnhub/symbols/{symbol}.json"))
        assert set(doc["fetched"]) == {"quotes", "company_profiles", "earnings", "recommendations"}
