"""The run's account per endpoint: statuses, counts, unknown symbols, errors for the manifest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bucketpipe.ingest.finnhub.client import Reply
from bucketpipe.ingest.finnhub.endpoints import BY_DATASET
from bucketpipe.ingest.finnhub.plan import Call, DatasetPlan
from bucketpipe.ingest.finnhub.report import MAX_ERRORS, Tally
from bucketpipe.ingest.finnhub.retry import Outcome

NOW = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)


def call(dataset: str, symbol: str = "AAPL") -> Call:
    return Call(BY_DATASET[dataset], {"symbol": symbol}, symbol)


def reply(outcome: Outcome = "ok", body: Any = None, status: int = 200, **extra: Any) -> Reply:
    return Reply(
        path="/x", params={"symbol": "AAPL"}, requested_at=NOW, status=status,
        outcome=outcome, body=body, **extra,
    )  # fmt: skip


def plans(**calls: int) -> list[DatasetPlan]:
    return [
        DatasetPlan(BY_DATASET[name], "due", tuple(call(name, f"S{i}") for i in range(n)))
        for name, n in calls.items()
    ]


def test_ok_calls() -> None:
    tally = Tally(plans(quotes=2))
    assert tally.record(call("quotes"), reply(body={"c": 1, "pc": 1})) is None
    retried = reply(body={"c": 2}, attempts=3, statuses=(429, 429, 200))
    assert tally.record(call("quotes", "MSFT"), retried) is None
    entry = tally.manifest_endpoints()["quotes"]
    assert entry == {
        "endpoint": "quote",
        "path": "/quote",
        "status": "ok",
        "premium": False,
        "planned": 2,
        "calls": 2,
        "ok": 2,
        "errors": 0,
        "skipped": 0,
        "retries": 2,
        "http": {"200": 2},  # the final status of each call
        "responses": {"200": 2, "429": 2},  # every response, retried attempts included
        "message": None,
    }
    assert tally.run_status() == "succeeded"
    assert [r.ok for r in tally.results] == [True, True]


def test_a_403_marks_the_dataset_not_entitled_and_records_a_denial() -> None:
    tally = Tally(plans(candles=3))
    error = "HTTP 403: You don't have access to this resource."
    problem = tally.record(call("candles"), reply("not_entitled", None, 403, error=error))
    assert problem == error
    assert tally.is_denied("candles")
    tally.skip(call("candles", "MSFT"), "the plan refused an earlier call (HTTP 403)")
    tally.skip(call("candles", "TSLA"), "the plan refused an earlier call (HTTP 403)")
    entry = tally.manifest_endpoints()["candles"]
    assert (entry["status"], entry["calls"], entry["skipped"], entry["errors"]) == (
        "not_entitled", 1, 2, 0,
    )  # fmt: skip
    assert entry["message"] == (
        f"not in the API plan: {error}; 2 skipped: the plan refused an earlier call (HTTP 403)"
    )
    assert tally.denials["candles"].denied_at == NOW
    assert tally.failed_calls == 0
    assert tally.run_status() == "succeeded"


def test_failures_count_and_make_the_run_partial() -> None:
    tally = Tally(plans(quotes=1, earnings=1))
    tally.record(call("quotes"), reply(body={"c": 1}))
    problem = tally.record(
        call("earnings"), reply("failed", None, 503, error="HTTP 503: busy", attempts=6)
    )
    assert problem == "HTTP 503: busy"
    assert tally.summary() == {"quotes": "ok", "earnings": "failed"}
    assert tally.run_status() == "partial"
    assert tally.all_errors() == ["/x (symbol=AAPL): HTTP 503: busy after 6 attempts"]


def test_only_failures_make_the_run_failed() -> None:
    tally = Tally(plans(quotes=1))
    tally.record(call("quotes"), reply("failed", None, 0, error="no answer within 2 s"))
    assert tally.run_status() == "failed"


def test_a_rejected_key_is_remembered() -> None:
    tally = Tally(plans(quotes=1))
    tally.record(call("quotes"), reply("unauthorized", {"error": "x"}, 401, error="HTTP 401"))
    assert tally.auth_failed
    assert tally.failed_calls == 1


def test_a_body_of_the_wrong_shape_is_a_failure() -> None:
    tally = Tally(plans(company_news=1, quotes=1))
    problem = tally.record(call("company_news"), reply(body={"error": "Wrong symbol"}))
    assert problem == "unexpected body: expected a JSON list, got object"
    assert tally.record(call("quotes"), reply(body={"error": "Too many"})) == (
        "error in a 200 answer: Too many"
    )
    assert tally.failed_calls == 2
    assert [r.ok for r in tally.results] == [False, False]


def test_unknown_symbols_are_reported_with_their_evidence() -> None:
    tally = Tally(plans(quotes=1, company_profiles=1))
    zero = {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
    tally.record(call("quotes", "ZZZZQ"), reply(body=zero))
    tally.record(call("company_profiles", "ZZZZQ"), reply(body={}))
    assert tally.unknown == {"ZZZZQ": ["quote of all zeros", "empty profile"]}
    assert tally.summary() == {"quotes": "ok", "company_profiles": "ok"}


def test_not_due_and_skipped_datasets_keep_their_plan_status() -> None:
    entries = Tally(
        [
            DatasetPlan(BY_DATASET["earnings"], "not_due", message="next due at X"),
            DatasetPlan(BY_DATASET["ipo_calendar"], "skipped", message="market-wide: shard 0"),
        ]
    ).manifest_endpoints()
    assert (entries["earnings"]["status"], entries["earnings"]["message"]) == (
        "not_due", "next due at X",
    )  # fmt: skip
    assert entries["ipo_calendar"]["status"] == "skipped"


def test_a_dataset_whose_calls_were_all_deferred_is_skipped() -> None:
    tally = Tally(plans(quotes=1))
    tally.skip(call("quotes"), "run time budget spent; due again next run")
    entry = tally.manifest_endpoints()["quotes"]
    assert entry["status"] == "skipped"
    assert entry["message"] == "1 skipped: run time budget spent; due again next run"


def test_error_lines_are_capped() -> None:
    tally = Tally(plans(quotes=MAX_ERRORS + 5))
    for i in range(MAX_ERRORS + 5):
        tally.record(call("quotes", f"S{i}"), reply("failed", None, 500, error="HTTP 500"))
    errors = tally.all_errors()
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1] == "... and 5 more failed calls"
