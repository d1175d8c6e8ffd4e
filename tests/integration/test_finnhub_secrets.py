"""The API key never appears in a URL, a log line, a raw object, a manifest, state or Redis."""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from bucketpipe.config.logs import configure_logging
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from tests.conftest import SettingsFactory
from tests.support.finnhub_fixtures import finnhub_overrides, run_ingest
from tests.support.finnhub_server import FREE_KEY, PREMIUM_KEY, FakeFinnhub

pytestmark = pytest.mark.integration

REVOKED_KEY = "revoked-test-key-3e9d0c4b7a16"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the JSON log handler writes, at DEBUG, third-party loggers included."""
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream)
    for name in ("urllib3", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    logging.getLogger().removeHandler(handler)


def lake_texts(ctx: Context) -> Iterator[tuple[str, bytes]]:
    for info in ctx.store.list_objects(""):
        data = ctx.store.get(info.key)
        yield info.key, gzip.decompress(data) if info.key.endswith(".gz") else data


def redis_texts(url: str) -> Iterator[tuple[str, str]]:
    client = redis.Redis.from_url(url, decode_responses=True)
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == "hash":
            yield key, repr(client.hgetall(key))
        elif kind == "stream":
            yield key, repr(client.xrange(key))
        elif kind == "string":
            yield key, repr(client.get(key))


def scenario_runs(ctx_for: Callable[..., Context], server: FakeFinnhub) -> list[Any]:
    """Successes, 403s, 429s, 5xx, broken bodies, and a rejected key."""
    server.inject("status", status=429, times=2, path="/quote")
    server.inject("status", status=503, times=2, path="/stock/profile2")
    server.inject("malformed", times=1, path="/stock/earnings")
    server.inject("timeout", times=1, delay=0.5, path="/stock/metric")
    outcomes = [
        run_ingest(ctx_for(PREMIUM_KEY), "premium-run"),
        run_ingest(ctx_for(FREE_KEY), "free-run", ignore_cadence=True),
        run_ingest(ctx_for(REVOKED_KEY), "revoked-run", ignore_cadence=True),
    ]
    assert outcomes[2].auth_failed
    return outcomes


def test_the_key_is_nowhere(
    lake_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: Callable[[Settings], Context],
    redis_url: str,
    log_output: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def ctx_for(key: str) -> Context:
        overrides = finnhub_overrides(
            finnhub_server, finnhub_api_key=key, symbols="AAPL,ZZZZQ", redis_url=redis_url,
            finnhub_timeout_seconds=0.3,
        )  # fmt: skip
        return make_context(lake_settings(**overrides))

    outcomes = scenario_runs(ctx_for, finnhub_server)
    keys = [PREMIUM_KEY, FREE_KEY, REVOKED_KEY]

    # Requests: the key only ever in the header.
    assert finnhub_server.token_in_url == 0
    for request in finnhub_server.requests():
        assert not any(k in str(request.params) for k in keys)
        assert request.headers.get("X-Finnhub-Token", "").startswith("<")

    # Logs: the handler's output and every record pytest captured.
    output = log_output.getvalue()
    assert "retrying Finnhub call" in output  # the scenario did exercise retries
    assert "not in the API plan" in output
    captured = [f"{r.getMessage()} {vars(r)}" for r in caplog.records]
    assert captured
    for key in keys:
        assert key not in output
        assert not [text for text in captured if key in text]

    # The lake: raw objects, manifests, state documents.
    assert all(outcome.manifest is not None for outcome in outcomes)
    texts = dict(lake_texts(ctx_for(PREMIUM_KEY)))
    assert any(name.startswith("raw/finnhub/") for name in texts)
    assert any(name.startswith("_runs/ingest/") for name in texts)
    assert any(name.startswith("_state/finnhub/") for name in texts)
    for name, data in texts.items():
        for key in keys:
            assert key.encode() not in data, f"the key is in {name}"

    # Redis: status hashes, the events stream, the rate-limit bucket.
    entries = dict(redis_texts(redis_url))
    assert any(":status:" in name for name in entries)
    assert any(":ratelimit:" in name for name in entries)
    for name, text in entries.items():
        for key in keys:
            assert key not in text and key not in name, f"the key is in Redis {name}"
