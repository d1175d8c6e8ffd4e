"""The shared token bucket in a real redis-server: the same math as the local one, atomic
across callers, pauses shared, and a local fallback when Redis goes away."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from bucketpipe.coord.ratelimit import Limit, LocalLimiter, RedisLimiter, take
from bucketpipe.ingest.finnhub.client import FinnhubClient
from bucketpipe.ingest.finnhub.retry import RetryPolicy
from tests.conftest import RedisServer
from tests.support.finnhub_server import PREMIUM_KEY, FakeFinnhub

pytestmark = pytest.mark.integration

LIMITS = [Limit(60, 60.0), Limit(30, 1.0)]


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=2)


def test_the_lua_script_computes_what_the_python_does(redis_url: str) -> None:
    now = [5_000.0]
    limiter = RedisLimiter(
        client(redis_url),
        "test:ratelimit:a",
        LIMITS,
        fallback=LocalLimiter(LIMITS),
        clock=lambda: now[0],
    )
    buckets = None
    for step in [0.0, 0.2, 0.5, 0.9, 1.0, 1.7, 0.01, 3.0, 0.0, 60.0, 0.3, 0.3, 0.3]:
        now[0] += step
        expected_buckets, expected = take(buckets, LIMITS, now[0])
        got = limiter.try_acquire()
        assert got == pytest.approx(expected, abs=2e-6), f"at t={now[0]}"
        buckets = expected_buckets
    assert limiter.kind == "redis"


def test_many_callers_stay_under_both_windows_and_use_the_quota(redis_url: str) -> None:
    # A "minute" of 2 seconds so the test sees many windows: 20 calls per 2 s, 10 per 0.5 s.
    limits = [Limit(20, 2.0), Limit(10, 0.5)]
    key = "test:ratelimit:hammer"
    with FakeFinnhub(per_minute=20, minute_window=2.0, per_second=10, second_window=0.5) as server:
        clients = [
            FinnhubClient(
                PREMIUM_KEY,
                limiter=RedisLimiter(client(redis_url), key, limits, fallback=LocalLimiter(limits)),
                base_url=server.url,
                retry=RetryPolicy(max_retries=0),
            )
            for _ in range(3)
        ]
        stop = time.monotonic() + 6.0
        failures: list[str] = []

        def hammer(c: FinnhubClient) -> None:
            while time.monotonic() < stop:
                reply = c.fetch("/quote", {"symbol": "AAPL"})
                if not reply.ok:
                    failures.append(reply.error or "?")

        threads = [threading.Thread(target=hammer, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    assert server.rate_limited == 0
    assert server.max_in_window(2.0) <= 20
    assert server.max_in_window(0.5) <= 10
    times = sorted(r.at for r in server.requests())
    use = (len(times) - 1) / ((times[-1] - times[0]) / 2.0 * 20)
    print(f"3 callers, one Redis bucket: {len(times)} calls, quota use {use:.1%}, zero 429s")
    assert use >= 0.85


def test_a_pause_holds_back_every_limiter_sharing_the_key(redis_url: str) -> None:
    one = RedisLimiter(client(redis_url), "test:ratelimit:p", LIMITS, fallback=LocalLimiter(LIMITS))
    two = RedisLimiter(client(redis_url), "test:ratelimit:p", LIMITS, fallback=LocalLimiter(LIMITS))
    assert two.try_acquire() == 0.0
    one.pause(5.0)
    wait = two.try_acquire()
    assert 4.0 < wait <= 5.0


def test_without_redis_the_local_share_takes_over_until_redis_is_back(
    redis_server: RedisServer, redis_url: str
) -> None:
    # The fallback's clock stands still, so its bucket refills only when the test says so.
    fallback = LocalLimiter([Limit(60, 60.0).share(0.5)], clock=lambda: 0.0)
    limiter = RedisLimiter(
        client(redis_url), "test:ratelimit:down", LIMITS, fallback=fallback, retry_redis_after=0
    )
    assert limiter.try_acquire() == 0.0
    assert limiter.kind == "redis"
    redis_server.stop()
    try:
        assert limiter.try_acquire() == 0.0  # the fallback's one token
        assert limiter.kind == "local (redis unavailable)"
        assert limiter.try_acquire() == pytest.approx(60 / 29)  # the fallback's 30/min share
    finally:
        redis_server.start()
    assert limiter.try_acquire() == 0.0
    assert limiter.kind == "redis"
