"""The documented sample bodies, the fake server's bodies and the body checks agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.config.settings import FINNHUB_DATASETS
from bucketpipe.ingest.finnhub.bodies import shape_error, unknown_symbol_reason
from bucketpipe.ingest.finnhub.endpoints import BY_NAME, ENDPOINTS
from bucketpipe.ingest.finnhub.plan import PlanConfig, build_plan, cadences
from bucketpipe.ingest.finnhub.state import FinnhubState
from tests.support.finnhub_data import REQUIRED, UNKNOWN, body_for

SAMPLES = Path(__file__).parents[1] / "support" / "finnhub_samples"
NOW = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def structure(value: Any) -> Any:
    """Keys and JSON types, recursively; lists by their first element; numbers are numbers."""
    if isinstance(value, dict):
        return {k: structure(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [structure(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def planned_calls() -> dict[str, tuple[str, dict[str, str]]]:
    cfg = PlanConfig(symbols=("AAPL",), datasets=FINNHUB_DATASETS, cadences=cadences())
    calls = [c for plan in build_plan(cfg, FinnhubState(), NOW) for c in plan.calls]
    first = {}
    for c in calls:
        first.setdefault(
            c.endpoint.name, (c.endpoint.path, {k: str(v) for k, v in c.params.items()})
        )
    return first


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_has_a_documented_sample_of_the_right_shape(ep: Any) -> None:
    body = sample(ep.name)
    assert body, f"sample of {ep.name} is empty"
    assert shape_error(ep, body) is None
    assert unknown_symbol_reason(ep, body) is None


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_the_fake_server_answers_in_the_documented_shape(ep: Any) -> None:
    path, params = planned_calls()[ep.name]
    assert path == ep.path
    assert set(REQUIRED[path]) <= set(params), "the plan omits a required parameter"
    body = body_for(path, params, NOW, frozenset())
    assert shape_error(ep, body) is None
    expected, got = structure(sample(ep.name)), structure(body)
    if ep.name == "earnings_calendar":
        # Future releases have no actuals yet: compare the keys, not the null-or-number values.
        expected = {k: sorted(v[0]) for k, v in expected.items()}
        got = {k: sorted(v[0]) for k, v in got.items()}
    assert got == expected


def test_the_plan_covers_every_dataset() -> None:
    assert {BY_NAME[name].dataset for name in planned_calls()} == set(FINNHUB_DATASETS)


@pytest.mark.parametrize(
    ("name", "endpoint", "reason"),
    [
        ("quote_unknown", "quote", "quote of all zeros"),
        ("profile_unknown", "profile", "empty profile"),
        ("candles_no_data", "candles", None),
    ],
)
def test_empty_answers_are_valid_bodies(name: str, endpoint: str, reason: str | None) -> None:
    ep = BY_NAME[endpoint]
    body = sample(name)
    assert shape_error(ep, body) is None
    assert unknown_symbol_reason(ep, body) == reason


@pytest.mark.parametrize("path", sorted(UNKNOWN))
def test_the_fake_servers_answers_for_unknown_symbols_are_valid_bodies(path: str) -> None:
    (ep,) = [e for e in ENDPOINTS if e.path == path]
    assert shape_error(ep, UNKNOWN[path]) is None


@pytest.mark.parametrize(
    ("endpoint", "body", "error"),
    [
        ("quote", [], "unexpected body: expected a JSON object, got list"),
        ("quote", None, "unexpected body: expected a JSON object, got null"),
        ("company_news", {}, "unexpected body: expected a JSON list, got object"),
        ("market_news", "text", "unexpected body: expected a JSON list, got str"),
        (
            "candles",
            {"error": "Symbol not supported"},
            "error in a 200 answer: Symbol not supported",
        ),
        ("earnings", 3, "unexpected body: expected a JSON list, got int"),
    ],
)
def test_bodies_of_the_wrong_shape(endpoint: str, body: Any, error: str) -> None:
    assert shape_error(BY_NAME[endpoint], body) == error


def test_partial_bodies_still_pass_the_shape_check() -> None:
    # Missing fields are cleaning's business (it quarantines rows), not a failed call.
    assert shape_error(BY_NAME["quote"], {"c": 12.5}) is None
    assert unknown_symbol_reason(BY_NAME["quote"], {"c": 12.5}) is None
    assert shape_error(BY_NAME["company_news"], [{"id": 1}]) is None


@pytest.mark.parametrize("name", ["not_entitled", "rate_limited", "unauthorized"])
def test_error_samples_carry_finnhubs_error_field(name: str) -> None:
    body = json.loads((SAMPLES / "errors" / f"{name}.json").read_text())
    assert set(body) == {"error"}
