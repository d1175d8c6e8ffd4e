"""The Finnhub client over an injected transport: header auth, retries, secrets kept out."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from bucketpipe.config.errors import (
    AuthenticationFailed,
    BucketpipeError,
    ConfigError,
    NotEntitled,
    RateLimited,
)
from bucketpipe.config.settings import Settings
from bucketpipe.coord.ratelimit import Limit, LocalLimiter
from bucketpipe.ingest.finnhub.client import (
    ApiError,
    ApiUnavailable,
    FinnhubClient,
    key_id,
)
from bucketpipe.ingest.finnhub.retry import RetryPolicy

KEY = "unit-test-key-5d2a71c9e0f348b6"
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)

Answer = tuple[int, Any, dict[str, str]] | BaseException


class ScriptedTransport(BaseAdapter):
    """A requests transport that answers from a script and remembers every request."""

    def __init__(self, answers: list[Answer] | None = None) -> None:
        super().__init__()
        self.answers = list(answers or [])
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        answer = self.answers.pop(0) if self.answers else (200, {}, {})
        if isinstance(answer, BaseException):
            raise answer
        status, body, headers = answer
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers.update({"Content-Type": "application/json", **headers})
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


class Sleeps:
    """Records sleeps and moves a fake monotonic clock by them."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 0.0

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make_client(
    transport: ScriptedTransport,
    *,
    retries: int = 3,
    sleep: Callable[[float], None] | None = None,
    limiter: LocalLimiter | None = None,
) -> FinnhubClient:
    return FinnhubClient(
        KEY,
        limiter=limiter or LocalLimiter([Limit(100_000, 60.0)]),
        base_url="https://finnhub.test/api/v1/",
        timeout=3.0,
        retry=RetryPolicy(max_retries=retries, base_seconds=1.0, max_seconds=30.0),
        transport=transport,
        sleep=sleep or Sleeps(),
        clock=lambda: NOW,
        rng=random.Random(1),
    )


def query(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url or "").query)


def test_the_key_travels_only_in_the_header() -> None:
    transport = ScriptedTransport([(200, {"c": 1.0}, {})])
    reply = make_client(transport).fetch("/quote", {"symbol": "AAPL"})
    (request,) = transport.sent
    assert request.headers["X-Finnhub-Token"] == KEY
    assert request.url == "https://finnhub.test/api/v1/quote?symbol=AAPL"
    assert KEY not in (request.url or "")
    assert reply.ok
    assert reply.body == {"c": 1.0}
    assert reply.params == {"symbol": "AAPL"}
    assert reply.requested_at == NOW
    assert reply.attempts == 1


def test_parsed_bodies_go_through_the_same_path() -> None:
    transport = ScriptedTransport([(200, [], {}), (200, {"s": "no_data"}, {}), (200, [], {})])
    client = make_client(transport)
    news = {"symbol": "AAPL", "from": "2024-05-01", "to": "2024-05-06"}
    assert client.get("/company-news", news) == []
    candles = {"symbol": "MSFT", "resolution": "D", "from": 1714521600, "to": 1714996800}
    assert client.get("/stock/candle", candles) == {"s": "no_data"}
    assert client.get("/news", {"category": "forex", "minId": 42}) == []
    paths = [urlsplit(r.url or "").path for r in transport.sent]
    assert paths == ["/api/v1/company-news", "/api/v1/stock/candle", "/api/v1/news"]
    assert query(transport.sent[0]) == {
        "symbol": ["AAPL"],
        "from": ["2024-05-01"],
        "to": ["2024-05-06"],
    }
    assert query(transport.sent[2]) == {"category": ["forex"], "minId": ["42"]}
    assert all("token" not in query(r) for r in transport.sent)
    assert all(r.headers["X-Finnhub-Token"] == KEY for r in transport.sent)


def test_unset_parameters_and_credentials_are_never_sent() -> None:
    transport = ScriptedTransport()
    client = make_client(transport)
    client.get("/stock/insider-transactions", {"symbol": "TSLA", "from": None, "to": None})
    reply = client.fetch("/quote", {"symbol": "AAPL", "token": KEY, "flag": True, "x": ""})
    assert query(transport.sent[0]) == {"symbol": ["TSLA"]}
    assert reply.params == {"symbol": "AAPL", "flag": "true"}
    assert query(transport.sent[1]) == {"symbol": ["AAPL"], "flag": ["true"]}


def test_no_parameter_can_put_a_key_in_the_url() -> None:
    transport = ScriptedTransport()
    client = make_client(transport)
    assert not hasattr(client, "api_key")
    client.get("/quote", {"symbol": "AAPL", "token": "another-key-9a8b7c6d5e4f"})
    (request,) = transport.sent
    assert request.headers["X-Finnhub-Token"] == KEY
    assert "token" not in query(request)
    assert "another-key-9a8b7c6d5e4f" not in (request.url or "")


def test_repr_and_str_show_a_hash_never_the_key() -> None:
    client = make_client(ScriptedTransport())
    for text in (repr(client), str(client)):
        assert KEY not in text
        assert key_id(KEY) in text
    assert key_id(KEY) == Settings(finnhub_api_key=KEY).finnhub_key_id()


@pytest.mark.parametrize("key", ["", None])
def test_no_key_is_a_configuration_error_pointing_to_the_demo(key: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        FinnhubClient(key or "", limiter=LocalLimiter([Limit(1, 1.0)]))
    message = str(info.value)
    assert "FINNHUB_API_KEY" in message
    assert "bucketpipe ingest demo" in message
    assert "\n" not in message


def test_server_errors_are_retried_with_backoff() -> None:
    sleeps = Sleeps()
    transport = ScriptedTransport([(503, b"busy", {}), (502, b"gateway", {}), (200, [1], {})])
    reply = make_client(transport, sleep=sleeps).fetch("/stock/earnings", {"symbol": "AAPL"})
    assert reply.ok and reply.body == [1]
    assert reply.attempts == 3
    assert reply.status == 200 and reply.statuses == (503, 502, 200)  # every answer is kept
    assert len(sleeps.delays) == 2
    assert 0.5 <= sleeps.delays[0] <= 1.0
    assert 1.0 <= sleeps.delays[1] <= 2.0


def test_429_honours_retry_after_and_pauses_the_shared_limiter() -> None:
    # The limiter has its own clock, as if other callers shared it: only its sleeps move it.
    waits = Sleeps()
    limiter = LocalLimiter([Limit(100_000, 60.0)], clock=waits.clock, sleep=waits)
    sleeps = Sleeps()
    body = {"error": "API limit reached. Please try again later. Remaining Limit: 0"}
    transport = ScriptedTransport([(429, body, {"Retry-After": "7"}), (200, {"c": 2}, {})])
    client = make_client(transport, sleep=sleeps, limiter=limiter)
    reply = client.fetch("/quote", {"symbol": "AAPL"})
    assert reply.ok and reply.attempts == 2
    assert reply.statuses == (429, 200)
    (delay,) = sleeps.delays
    assert 7.0 <= delay <= 8.0
    # The pause was put in the limiter, so every caller sharing it waited as long.
    assert waits.delays == [pytest.approx(delay)]


def test_retries_run_out_and_the_reply_says_why() -> None:
    transport = ScriptedTransport([(500, b"down", {})] * 3)
    reply = make_client(transport, retries=2).fetch("/stock/metric", {"symbol": "A"})
    assert not reply.ok
    assert (reply.outcome, reply.status, reply.attempts, reply.transient) == (
        "failed",
        500,
        3,
        True,
    )
    assert reply.error == "HTTP 500: down"
    with pytest.raises(ApiUnavailable, match="/stock/metric: HTTP 500: down"):
        reply.result()


def test_timeouts_and_dropped_connections_are_retried() -> None:
    transport = ScriptedTransport(
        [
            requests.ReadTimeout("read timed out"),
            requests.ConnectionError("connection reset by peer"),
            requests.exceptions.ChunkedEncodingError("IncompleteRead(10 bytes read)"),
            (200, {"c": 3}, {}),
        ]
    )
    reply = make_client(transport, retries=3).fetch("/quote", {"symbol": "AAPL"})
    assert reply.ok and reply.attempts == 4


def test_a_timeout_through_every_retry() -> None:
    transport = ScriptedTransport([requests.ConnectTimeout("connect timed out")] * 2)
    reply = make_client(transport, retries=1).fetch("/quote", {"symbol": "AAPL"})
    assert (reply.status, reply.outcome, reply.attempts) == (0, "failed", 2)
    assert reply.error == "no answer within 3 s (ConnectTimeout)"


def test_terminal_answers_are_not_retried() -> None:
    transport = ScriptedTransport(
        [
            (403, {"error": "You don't have access to this resource."}, {}),
            (401, {"error": "Invalid API key"}, {}),
            (404, {"error": "Not found"}, {}),
            (302, b"", {"Location": "https://elsewhere.example/"}),
        ]
    )
    client = make_client(transport)
    with pytest.raises(NotEntitled, match="/stock/candle: HTTP 403"):
        client.get("/stock/candle", {"symbol": "AAPL", "resolution": "D", "from": 1, "to": 2})
    with pytest.raises(AuthenticationFailed, match="the API key was rejected"):
        client.get("/quote", {"symbol": "AAPL"})
    with pytest.raises(ApiError, match="HTTP 404"):
        client.get("/quote", {"symbol": "AAPL"})
    redirected = client.fetch("/quote", {"symbol": "AAPL"})
    assert redirected.error == "HTTP 302: unexpected redirect to https://elsewhere.example/"
    assert len(transport.sent) == 4  # one attempt each, the redirect not followed


def test_rate_limited_through_every_retry_raises_rate_limited() -> None:
    transport = ScriptedTransport([(429, {"error": "API limit reached."}, {})] * 2)
    reply = make_client(transport, retries=1).fetch("/quote", {"symbol": "AAPL"})
    with pytest.raises(RateLimited):
        reply.result()


def test_the_key_is_in_no_error_message() -> None:
    echo = f"proxy says: bad token {KEY}".encode()
    transport = ScriptedTransport([(400, echo, {}), requests.ConnectionError(f"reset {KEY}")])
    client = make_client(transport, retries=0)
    replies = [client.fetch("/quote", {"symbol": "A"}), client.fetch("/quote", {"symbol": "B"})]
    for reply in replies:
        assert reply.error and KEY not in reply.error
        with pytest.raises(BucketpipeError) as info:
            reply.result()
        assert KEY not in str(info.value)


def test_only_gets() -> None:
    transport = ScriptedTransport()
    client = make_client(transport)
    client.fetch("/quote", {"symbol": "AAPL"})
    client.get("/news", {"category": "general"})
    assert [r.method for r in transport.sent] == ["GET", "GET"]
    assert not any(hasattr(client, verb) for verb in ("post", "put", "delete", "_request"))
