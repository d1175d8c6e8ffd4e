"""What an HTTP answer from Finnhub means, and the backoff before trying again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from bucketpipe.config.logs import register_secrets
from bucketpipe.ingest.finnhub.retry import (
    RetryPolicy,
    classify,
    network_failure,
    parse_json,
    reset_seconds,
    retry_after_seconds,
)

NOW = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=8, base_seconds=1.0, max_seconds=10.0)
    lows = [policy.delay(n, None, 0.0) for n in range(6)]
    highs = [policy.delay(n, None, 1.0) for n in range(6)]
    assert lows == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert highs == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert policy.delay(2, None, 0.5) == 3.0


def test_retries_run_out() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.delay(1, None, 0.5) is not None
    assert policy.delay(2, None, 0.5) is None
    assert RetryPolicy(max_retries=0).delay(0, None, 0.5) is None


def test_retry_after_is_honoured_with_a_little_jitter() -> None:
    policy = RetryPolicy(base_seconds=2.0, max_seconds=30.0)
    assert policy.delay(0, 7.0, 0.0) == 7.0
    assert policy.delay(0, 7.0, 1.0) == 8.0  # at most a second on top
    assert policy.delay(4, 0.0, 0.5) == 0.5


def test_a_retry_after_longer_than_the_cap_is_not_waited_for() -> None:
    assert RetryPolicy(max_seconds=60.0).delay(0, 3600.0, 0.5) is None


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds({"Retry-After": "12"}, NOW) == 12.0
    assert retry_after_seconds({"Retry-After": "Mon, 06 May 2024 12:00:30 GMT"}, NOW) == 30.0
    assert retry_after_seconds({"Retry-After": "Mon, 06 May 2024 11:00:00 GMT"}, NOW) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}, NOW) is None
    assert retry_after_seconds({}, NOW) is None


def test_finnhubs_ratelimit_reset_header_is_a_hint_for_429s() -> None:
    reset = {"X-Ratelimit-Reset": str(int(NOW.timestamp()) + 40)}
    assert reset_seconds(reset, NOW) == 40.0
    far = {"X-Ratelimit-Reset": str(int(NOW.timestamp()) + 86_400)}  # a daily quota
    assert reset_seconds(far, NOW) is None
    assert reset_seconds({"X-Ratelimit-Reset": "x"}, NOW) is None
    assert reset_seconds({}, NOW) is None
    assert retry_after_seconds(reset, NOW) is None
    limited = classify(429, reset, b"{}", NOW)
    assert (limited.retry_after, limited.reset_after) == (None, 40.0)
    # A server error carrying the quota headers is retried on the normal backoff.
    assert classify(503, reset, b"", NOW).reset_after is None


def test_the_reset_hint_is_waited_for_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1.0, max_seconds=30.0)
    assert policy.delay(0, None, 0.0, reset_after=12.0) == 12.0
    assert policy.delay(0, None, 0.0, reset_after=45.0) == 30.0  # capped, not given up
    assert policy.delay(0, 5.0, 0.0, reset_after=45.0) == 5.0  # Retry-After wins


def test_ok_answers_parse() -> None:
    attempt = classify(200, {}, b'{"c": 1.5}', NOW)
    assert (attempt.outcome, attempt.body, attempt.retry, attempt.error) == (
        "ok",
        {"c": 1.5},
        False,
        None,
    )
    assert classify(200, {}, b"[]", NOW).body == []


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "HTTP 200 with empty body"),
        (b"   ", "HTTP 200 with empty body"),
        (b'{"c": 1.5, "h":', "HTTP 200 with malformed JSON (15 bytes)"),
        (b"<html>oops</html>", "HTTP 200 with malformed JSON (17 bytes)"),
    ],
)
def test_broken_bodies_are_retried(content: bytes, error: str) -> None:
    attempt = classify(200, {}, content, NOW)
    assert (attempt.outcome, attempt.retry, attempt.error, attempt.body) == (
        "failed",
        True,
        error,
        None,
    )


def test_rate_limited_answers_are_retried_after_the_servers_wait() -> None:
    body = b'{"error":"API limit reached. Please try again later. Remaining Limit: 0"}'
    attempt = classify(429, {"Retry-After": "3"}, body, NOW)
    assert attempt.outcome == "rate_limited"
    assert attempt.retry is True
    assert attempt.retry_after == 3.0
    assert (
        attempt.error == "HTTP 429: API limit reached. Please try again later. Remaining Limit: 0"
    )


def test_a_json_403_means_not_in_the_plan() -> None:
    body = b'{"error": "You don\'t have access to this resource."}'
    attempt = classify(403, {}, body, NOW)
    assert (attempt.outcome, attempt.retry) == ("not_entitled", False)
    assert attempt.body == {"error": "You don't have access to this resource."}


def test_a_403_from_a_proxy_is_a_plain_failure() -> None:
    attempt = classify(403, {}, b"<html>Forbidden by policy</html>", NOW)
    assert (attempt.outcome, attempt.retry) == ("failed", False)
    assert attempt.error == "HTTP 403: <html>Forbidden by policy</html>"


def test_401_is_a_rejected_key() -> None:
    attempt = classify(401, {}, b'{"error": "Invalid API key"}', NOW)
    assert (attempt.outcome, attempt.retry) == ("unauthorized", False)
    assert attempt.error == "HTTP 401: the API key was rejected (Invalid API key)"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retried(status: int) -> None:
    attempt = classify(status, {}, b"<html>Bad gateway</html>", NOW)
    assert (attempt.outcome, attempt.retry, attempt.body) == ("failed", True, None)
    assert attempt.error == f"HTTP {status}: <html>Bad gateway</html>"


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    attempt = classify(status, {}, b'{"error": "Wrong parameters"}', NOW)
    assert (attempt.outcome, attempt.retry) == ("failed", False)
    assert attempt.error == f"HTTP {status}: Wrong parameters"


def test_redirects_are_failures_not_followed() -> None:
    attempt = classify(302, {"Location": "https://elsewhere.example/"}, b"", NOW)
    assert (attempt.outcome, attempt.retry) == ("failed", False)
    assert attempt.error == "HTTP 302: unexpected redirect to https://elsewhere.example/"


def test_long_error_pages_are_cut_and_secrets_masked() -> None:
    register_secrets(["leaky-proxy-secret-123"])
    page = b"<html>" + b"x" * 500 + b" leaky-proxy-secret-123</html>"
    error = classify(500, {}, b"leaky-proxy-secret-123 " + page, NOW).error or ""
    assert "leaky-proxy-secret-123" not in error
    assert error.startswith("HTTP 500: *** <html>xxx")
    assert error.endswith("...")
    assert len(error) < 230


def test_network_failures_are_retried() -> None:
    timeout = network_failure(requests.ReadTimeout("read timed out"), 2.5)
    assert (timeout.status, timeout.retry) == (0, True)
    assert timeout.error == "no answer within 2.5 s (ReadTimeout)"
    refused = network_failure(requests.ConnectionError("connection refused"), 2.5)
    assert refused.error == "connection failed: ConnectionError: connection refused"
    assert refused.retry is True


def test_parse_json() -> None:
    assert parse_json(b'{"a": 1}') == (True, {"a": 1})
    assert parse_json(b"null") == (True, None)
    assert parse_json(b"") == (False, None)
    assert parse_json(b"{") == (False, None)
