"""The client rides out what a real API does: 429 storms, 5xx bursts, timeouts, broken bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.lake.raw import read_lines
from tests.conftest import SettingsFactory
from tests.support.finnhub_fixtures import finnhub_overrides, run_ingest
from tests.support.finnhub_server import FakeFinnhub

pytestmark = pytest.mark.integration

SYMBOLS = "AAPL,MSFT,NVDA,TSLA"


def lines(ctx: Context, key: str) -> list[dict[str, Any]]:
    return list(read_lines(ctx.store.get(key)))


def test_a_429_storm_is_ridden_out(
    make_settings: SettingsFactory, make_context: Callable[[Settings], Context]
) -> None:
    # The server allows 5 calls per second while the client believes it may make 100: every
    # burst runs into 429s, which the client must wait out without losing a call.
    symbols = ",".join(f"S{i:02d}" for i in range(20))
    with FakeFinnhub(per_second=5, per_minute=10_000, send_retry_after=False) as server:
        settings = make_settings(
            **finnhub_overrides(server, symbols=symbols, finnhub_calls_per_second=100,
                                finnhub_backoff_seconds=0.05, finnhub_max_retries=8)
        )  # fmt: skip
        outcome = run_ingest(make_context(settings), "storm", datasets=("quotes", "earnings"))
        assert server.rate_limited >= 5
        assert server.token_in_url == 0
    manifest = outcome.manifest
    assert manifest is not None
    assert outcome.failed_calls == 0
    assert manifest.status == "succeeded"
    quotes, earnings = manifest.endpoints["quotes"], manifest.endpoints["earnings"]
    assert (quotes["ok"], earnings["ok"]) == (20, 20)
    assert quotes["retries"] + earnings["retries"] == server.rate_limited
    print(f"429 storm: {server.rate_limited} answered 429, every call retried to success")


def test_injected_429s_with_retry_after(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    finnhub_server.inject("status", status=429, times=4, retry_after=0.05, path="/quote")
    ctx = make_context(make_settings(**finnhub_overrides(finnhub_server, symbols="AAPL")))
    outcome = run_ingest(ctx, "run-1", datasets=("quotes",))
    assert outcome.manifest is not None
    quotes = outcome.manifest.endpoints["quotes"]
    assert (quotes["status"], quotes["retries"], quotes["http"]) == ("ok", 4, {"200": 1})
    statuses = [r.status for r in finnhub_server.requests("/quote")]
    assert statuses == [429, 429, 429, 429, 200]


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("status", {"status": 500}),
        ("status", {"status": 502}),
        ("status", {"status": 503}),
        ("html", {"status": 502}),
        ("timeout", {"delay": 1.0}),
        ("malformed", {}),
        ("truncated", {}),
        ("empty", {}),
        ("drop", {}),
    ],
)
def test_transient_failures_are_retried(
    kind: str,
    options: dict[str, Any],
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    finnhub_server.inject(kind, times=2, path="/stock/metric", **options)  # type: ignore[arg-type]
    settings = make_settings(
        **finnhub_overrides(finnhub_server, symbols="AAPL", finnhub_timeout_seconds=0.3)
    )
    ctx = make_context(settings)
    outcome = run_ingest(ctx, "run-1", datasets=("basic_financials",))
    assert outcome.manifest is not None
    assert outcome.failed_calls == 0
    entry = outcome.manifest.endpoints["basic_financials"]
    assert (entry["status"], entry["ok"], entry["retries"]) == ("ok", 1, 2)
    (line,) = lines(ctx, outcome.manifest.outputs[0])
    assert (line["status"], line["attempts"], line["error"]) == (200, 3, None)
    assert line["body"]["symbol"] == "AAPL"
    assert len(finnhub_server.requests("/stock/metric")) == 3


def test_what_fails_through_every_retry_is_reported_and_the_rest_committed(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    finnhub_server.inject("malformed", times=10, path="/stock/recommendation")
    settings = make_settings(
        **finnhub_overrides(finnhub_server, symbols="AAPL", finnhub_max_retries=3)
    )
    ctx = make_context(settings)
    outcome = run_ingest(ctx, "run-1", datasets=("quotes", "recommendations"))
    manifest = outcome.manifest
    assert manifest is not None
    assert outcome.failed_calls == 1
    assert manifest.status == "partial"
    assert manifest.endpoints["quotes"]["status"] == "ok"
    assert manifest.endpoints["recommendations"]["status"] == "failed"
    by_endpoint = {ln["endpoint"]: ln for ln in lines(ctx, manifest.outputs[0])}
    failed = by_endpoint["recommendations"]
    assert failed["status"] == 200
    assert failed["body"] is None
    assert failed["attempts"] == 4
    assert failed["error"].startswith("HTTP 200 with malformed JSON")
    assert by_endpoint["quote"]["error"] is None


def test_a_retry_after_beyond_the_cap_is_not_waited_for(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    finnhub_server.inject("status", status=429, times=1, retry_after=3600, path="/quote")
    ctx = make_context(make_settings(**finnhub_overrides(finnhub_server, symbols="AAPL")))
    outcome = run_ingest(ctx, "run-1", datasets=("quotes",))
    assert outcome.failed_calls == 1
    assert len(finnhub_server.requests("/quote")) == 1
    assert outcome.manifest is not None
    assert "HTTP 429" in outcome.manifest.errors[0]


def test_the_run_budget_defers_calls_to_the_next_run(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    finnhub_server.inject("slow", times=1, delay=0.3, path="/quote")
    settings = make_settings(
        **finnhub_overrides(finnhub_server, symbols="AAPL,MSFT,NVDA",
                            finnhub_run_budget_seconds=0.2)
    )  # fmt: skip
    ctx = make_context(settings)
    outcome = run_ingest(ctx, "run-1", datasets=("quotes", "earnings"))
    manifest = outcome.manifest
    assert manifest is not None
    assert outcome.failed_calls == 0
    quotes, earnings = manifest.endpoints["quotes"], manifest.endpoints["earnings"]
    assert (quotes["ok"], quotes["skipped"]) == (1, 2)
    assert (earnings["status"], earnings["skipped"]) == ("skipped", 3)
    assert "run time budget spent" in earnings["message"]
    before = len(finnhub_server.requests())
    run_ingest(ctx, "run-2", datasets=("earnings",))
    assert len(finnhub_server.requests("/stock/earnings")) == 3  # all still due
    assert len(finnhub_server.requests()) == before + 3


def test_an_endless_or_dripping_answer_is_cut_off(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
) -> None:
    """A hostile or broken API answers 200 with a body without end, or one byte at a time
    under the read timeout: the client read on for as long as the server liked, holding the
    whole body in memory (an ingest pod's limit is 512 MiB). Each call is now cut at its size
    cap or its total time, reported with the reason, and the other datasets land."""
    import time

    finnhub_server.inject("huge", times=20, path="/quote", size=300 * 1024 * 1024)
    finnhub_server.inject("drip", times=20, path="/stock/recommendation", delay=120.0)
    settings = make_settings(
        **finnhub_overrides(
            finnhub_server, symbols="AAPL", finnhub_timeout_seconds=1.0, finnhub_max_retries=1
        )
    )
    ctx = make_context(settings)
    started = time.monotonic()
    outcome = run_ingest(ctx, "endless", datasets=("quotes", "recommendations", "earnings"))
    elapsed = time.monotonic() - started
    manifest = outcome.manifest
    assert manifest is not None and manifest.status == "partial"
    assert manifest.endpoints["earnings"]["status"] == "ok"
    by_endpoint = {ln["endpoint"]: ln for ln in lines(ctx, manifest.outputs[0])}
    assert by_endpoint["quote"]["error"].startswith("the answer is larger than 64 MiB")
    assert by_endpoint["quote"]["attempts"] == 1  # the same answer again would not help
    assert by_endpoint["recommendations"]["error"].startswith("no whole answer within 4 s")
    assert elapsed < 30, f"the run took {elapsed:.1f} s"
