"""Finnhub ingest against the fake server: every dataset lands, free-key entitlement skips,
state in the bucket, idempotent run ids, incremental news."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.finnhub.endpoints import ENDPOINTS
from bucketpipe.ingest.finnhub.state import StateStore
from bucketpipe.lake.layout import STATE
from bucketpipe.lake.raw import read_lines
from tests.conftest import SettingsFactory
from tests.support.finnhub_fixtures import finnhub_overrides, run_ingest
from tests.support.finnhub_server import FREE_KEY, PREMIUM_KEY, PREMIUM_PATHS, FakeFinnhub

pytestmark = pytest.mark.integration

SYMBOLS = "AAPL,MSFT,ZZZZQ"


def raw_lines(ctx: Context, key: str) -> list[dict[str, Any]]:
    return list(read_lines(ctx.store.get(key)))


def test_every_dataset_lands_raw_with_a_premium_key(
    lake_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    ctx = make_context(lake_settings(**finnhub_overrides(finnhub_server, symbols=SYMBOLS)))
    outcome = run_ingest(ctx, "run-1")
    manifest = outcome.manifest
    assert manifest is not None
    assert (manifest.status, manifest.source, outcome.failed_calls) == ("succeeded", "finnhub", 0)
    assert {name: e["status"] for name, e in manifest.endpoints.items()} == {
        e.dataset: "ok" for e in ENDPOINTS
    }
    (raw_key,) = manifest.outputs
    assert raw_key.startswith("raw/finnhub/dt=") and raw_key.endswith("/run-1.jsonl.gz")
    lines = raw_lines(ctx, raw_key)
    assert len(lines) == manifest.rows == len(finnhub_server.requests())
    assert {line["endpoint"] for line in lines} == {e.name for e in ENDPOINTS}
    assert all(line["status"] == 200 and line["error"] is None for line in lines)
    assert all(line["source"] == "finnhub" and line["run"] == "run-1" for line in lines)
    by_endpoint = Counter(line["endpoint"] for line in lines)
    assert by_endpoint["quote"] == 3 and by_endpoint["market_news"] == 4
    assert {line["path"] for line in lines} == {e.path for e in ENDPOINTS}
    quote = next(
        ln for ln in lines if ln["endpoint"] == "quote" and ln["params"]["symbol"] == "AAPL"
    )
    assert quote["params"] == {"symbol": "AAPL"}
    assert quote["body"]["c"] > 0
    assert datetime.fromisoformat(quote["requested_at"]).tzinfo is not None
    assert manifest.details["unknown_symbols"] == {"ZZZZQ": ["quote of all zeros", "empty profile"]}
    # The unknown symbol is still landed raw: cleaning quarantines it.
    assert any(ln["params"].get("symbol") == "ZZZZQ" for ln in lines)
    assert ctx.runlog.exists("ingest", "run-1")


def test_premium_endpoints_on_a_free_key_are_called_once_then_skipped(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    settings = make_settings(
        **finnhub_overrides(finnhub_server, finnhub_api_key=FREE_KEY, symbols="AAPL,MSFT,NVDA")
    )
    ctx = make_context(settings)
    first = run_ingest(ctx, "run-1")
    assert first.manifest is not None
    assert first.failed_calls == 0  # exit 0: not being entitled is not a failure
    premium_calls = Counter(r.path for r in finnhub_server.requests() if r.path in PREMIUM_PATHS)
    assert premium_calls == dict.fromkeys(PREMIUM_PATHS, 1)
    for name in ("candles", "social_sentiment", "dividends"):
        entry = first.manifest.endpoints[name]
        assert (entry["status"], entry["calls"], entry["skipped"]) == ("not_entitled", 1, 2)
        assert "You don't have access to this resource." in entry["message"]
    lines = raw_lines(ctx, first.manifest.outputs[0])
    refused = [ln for ln in lines if ln["status"] == 403]
    assert len(refused) == 3 and all(ln["body"] is None or "error" in ln["body"] for ln in refused)

    # Within the retry period the endpoints are not called at all.
    before = len(finnhub_server.requests())
    second = run_ingest(ctx, "run-2")
    assert second.manifest is not None
    new = finnhub_server.requests()[before:]
    assert not [r for r in new if r.path in PREMIUM_PATHS]
    candles = second.manifest.endpoints["candles"]
    assert (candles["status"], candles["calls"]) == ("skipped", 0)
    assert candles["message"].startswith("not in the API plan (HTTP 403 at ")

    # After the period, each is tried once more.
    ctx.clock = lambda: datetime.now(UTC) + timedelta(hours=24, minutes=1)
    before = len(finnhub_server.requests())
    third = run_ingest(ctx, "run-3")
    assert third.manifest is not None
    new = finnhub_server.requests()[before:]
    assert Counter(r.path for r in new if r.path in PREMIUM_PATHS) == dict.fromkeys(
        PREMIUM_PATHS, 1
    )


def test_a_new_key_is_not_held_back_by_an_old_keys_denials(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    free = make_settings(**finnhub_overrides(finnhub_server, finnhub_api_key=FREE_KEY))
    run_ingest(make_context(free), "free-run", datasets=("candles",))
    # The same lake, another key.
    upgraded = make_context(make_settings(**finnhub_overrides(finnhub_server)))
    assert upgraded.settings.finnhub_api_key is not None
    assert upgraded.settings.finnhub_api_key.get_secret_value() == PREMIUM_KEY
    outcome = run_ingest(upgraded, "premium-run", datasets=("candles",))
    assert outcome.manifest is not None
    assert outcome.manifest.endpoints["candles"]["status"] == "ok"
    assert outcome.manifest.endpoints["candles"]["ok"] == 7


def test_state_is_kept_in_the_bucket_and_only_due_data_is_fetched_again(
    lake_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    ctx = make_context(lake_settings(**finnhub_overrides(finnhub_server, symbols="AAPL,MSFT")))
    run_ingest(ctx, "run-1")
    keys = sorted(info.key for info in ctx.store.list_objects(f"{STATE}/finnhub/"))
    assert keys == [
        "_state/finnhub/market.json",
        "_state/finnhub/symbols/AAPL.json",
        "_state/finnhub/symbols/MSFT.json",
    ]
    aapl = json.loads(ctx.store.get("_state/finnhub/symbols/AAPL.json"))
    assert set(aapl["fetched"]) == {e.dataset for e in ENDPOINTS if e.scope == "symbol"}
    assert aapl["news_through"] == datetime.now(UTC).date().isoformat()

    before = len(finnhub_server.requests())
    second = run_ingest(ctx, "run-2")
    assert second.manifest is not None
    paths = Counter(r.path for r in finnhub_server.requests()[before:])
    assert paths == {"/quote": 2, "/news": 4}
    assert second.manifest.endpoints["company_profiles"]["status"] == "not_due"


def test_market_news_and_company_news_are_incremental(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    settings = make_settings(**finnhub_overrides(finnhub_server, symbols="AAPL"))
    ctx = make_context(settings)
    run_ingest(ctx, "run-1", datasets=("company_news", "market_news"))
    first = finnhub_server.requests()
    newest = {r.params["category"]: int(r.params["minId"]) for r in first if r.path == "/news"}
    assert newest == {"general": 0, "forex": 0, "crypto": 0, "merger": 0}
    news_days = {(r.params["from"], r.params["to"]) for r in first if r.path == "/company-news"}
    assert len(news_days) == 2  # eight days in windows of seven

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    ctx.clock = lambda: tomorrow
    finnhub_server.clock = lambda: tomorrow
    run_ingest(ctx, "run-2", datasets=("company_news", "market_news"))
    later = finnhub_server.requests()[len(first) :]
    min_ids = {r.params["category"]: int(r.params["minId"]) for r in later if r.path == "/news"}
    state = StateStore(ctx.store, settings.finnhub_key_id()).load(["AAPL"])
    assert all(min_ids[c] > 0 for c in min_ids)
    assert state.market.news_min_id["general"] > min_ids["general"]  # newer items arrived
    (news,) = [r.params for r in later if r.path == "/company-news"]
    today = datetime.now(UTC).date()
    assert (news["from"], news["to"]) == (today.isoformat(), tomorrow.date().isoformat())


def test_a_committed_run_id_is_a_no_op_unless_forced(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    ctx = make_context(make_settings(**finnhub_overrides(finnhub_server, symbols="AAPL")))
    first = run_ingest(ctx, "cron-28512345", datasets=("quotes",))
    assert first.manifest is not None
    calls = len(finnhub_server.requests())
    again = run_ingest(ctx, "cron-28512345", datasets=("quotes",))
    assert again.noop and again.manifest is None
    assert len(finnhub_server.requests()) == calls
    forced = run_ingest(ctx, "cron-28512345", datasets=("quotes",), force=True)
    assert forced.manifest is not None
    assert forced.manifest.outputs == first.manifest.outputs  # the same keys, re-landed
    assert len(finnhub_server.requests()) == calls + 1


def test_a_forced_run_refetches_everything_so_its_raw_object_loses_nothing(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    ctx = make_context(make_settings(**finnhub_overrides(finnhub_server, symbols="AAPL")))
    datasets = ("quotes", "company_profiles", "earnings")
    first = run_ingest(ctx, "run-1", datasets=datasets)
    assert first.manifest is not None
    forced = run_ingest(ctx, "run-1", datasets=datasets, force=True)
    assert forced.manifest is not None
    assert {n: e["status"] for n, e in forced.manifest.endpoints.items()} == dict.fromkeys(
        datasets, "ok"
    )
    endpoints = {ln["endpoint"] for ln in raw_lines(ctx, forced.manifest.outputs[0])}
    assert endpoints == {"quote", "profile", "earnings"}


def test_failed_calls_are_committed_as_failed_and_due_again(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    settings = make_settings(
        **finnhub_overrides(finnhub_server, symbols="AAPL,MSFT", finnhub_max_retries=2)
    )
    ctx = make_context(settings)
    finnhub_server.inject("status", status=503, times=3, path="/stock/earnings")
    outcome = run_ingest(ctx, "run-1", datasets=("quotes", "earnings"))
    manifest = outcome.manifest
    assert manifest is not None
    assert outcome.failed_calls == 1, manifest.errors
    assert manifest.status == "partial"
    earnings = manifest.endpoints["earnings"]
    assert (earnings["status"], earnings["ok"], earnings["errors"]) == ("failed", 1, 1)
    assert earnings["http"] == {"200": 1, "503": 1}
    (error,) = manifest.errors
    assert error.startswith("/stock/earnings (symbol=") and "HTTP 503" in error
    assert error.endswith("after 3 attempts")
    failed = [ln for ln in raw_lines(ctx, manifest.outputs[0]) if ln["status"] == 503]
    assert len(failed) == 1 and failed[0]["attempts"] == 3
    assert failed[0]["error"].startswith("HTTP 503")

    # The failed symbol's earnings are due again; the one that arrived is not.
    failed_symbol = failed[0]["params"]["symbol"]
    before = len(finnhub_server.requests())
    run_ingest(ctx, "run-2", datasets=("quotes", "earnings"))
    later = finnhub_server.requests()[before:]
    retried = [r.params["symbol"] for r in later if r.path == "/stock/earnings"]
    assert retried == [failed_symbol]


def test_a_rejected_key_stops_the_run_after_one_call(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    settings = make_settings(
        **finnhub_overrides(finnhub_server, finnhub_api_key="revoked-key-0a1b2c3d4e5f")
    )
    outcome = run_ingest(make_context(settings), "run-1")
    assert outcome.auth_failed
    assert len(finnhub_server.requests()) == 1
    assert outcome.manifest is not None
    assert outcome.manifest.status == "failed"
    skipped = outcome.manifest.endpoints["company_profiles"]
    assert skipped["message"] == "7 skipped: the API key was rejected (HTTP 401)"
