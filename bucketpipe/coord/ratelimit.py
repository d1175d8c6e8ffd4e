"""Token buckets that keep API calls under a plan's limits, in one process or shared via Redis.

A plan says "at most L calls in any window of W seconds" (Finnhub: 60 per minute and 30 per
second). A token bucket holding `burst` tokens and refilled at `rate` per second grants fewer
than `burst + rate * W` calls in any window shorter than W. A granted call can reach the
server late (a busy CPU, a slow connection), so calls granted in two windows can arrive in
one: `slack` calls of every window are left unused, the calls the limit allows in `JITTER_S`
(a thirtieth of a second: one call at Finnhub's fastest limit, 30 a second; three at 90 a
second), with `rate = (L - burst - (slack - 1)) / W`, so no window sees more than L - slack.
With `burst = L // 60` (at least 1) a long run still uses over 98% of a 60-per-minute quota.
Every call takes one token from each bucket of every limit.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

__all__ = [
    "Bucket",
    "Limit",
    "LocalLimiter",
    "RateLimiter",
    "RedisLimiter",
    "open_limiter",
    "take",
]

_EPSILON = 1e-9
# How late a granted call may reach the server and still count in the window it was granted in.
JITTER_S = 1 / 30


@dataclass(frozen=True)
class Limit:
    """At most `calls` calls in any window of `seconds` seconds."""

    calls: int
    seconds: float

    def __post_init__(self) -> None:
        if self.calls < 1 or self.seconds <= 0:
            raise ValueError(f"invalid rate limit {self.calls} calls per {self.seconds} s")

    @property
    def burst(self) -> int:
        """Tokens a full bucket holds: one per 60 calls of the limit, at least one."""
        return max(1, self.calls // 60)

    @property
    def slack(self) -> int:
        """Calls of the limit left unused in every window: those it allows in `JITTER_S`."""
        return max(1, math.ceil(self.calls / self.seconds * JITTER_S - _EPSILON))

    @property
    def rate(self) -> float:
        """Tokens added per second, so that no window of `seconds` sees more than
        `calls - slack`."""
        return max(self.calls - self.burst - (self.slack - 1), 1) / self.seconds

    def share(self, fraction: float) -> Limit:
        """This limit divided among several independent callers (each gets `fraction`)."""
        return Limit(max(1, math.floor(self.calls * fraction)), self.seconds)


@dataclass(frozen=True)
class Bucket:
    """Tokens in one bucket as of clock time `at` (seconds)."""

    tokens: float
    at: float


def take(
    buckets: Sequence[Bucket] | None, limits: Sequence[Limit], now: float
) -> tuple[tuple[Bucket, ...], float]:
    """Try to take one token from the bucket of every limit at time `now`.

    Returns the buckets after the attempt and 0.0 when the call may go ahead, else the
    refilled (untouched) buckets and the seconds to wait before a token is there.
    `None` means no state yet: every bucket starts full.
    """
    if buckets is None:
        buckets = tuple(Bucket(float(limit.burst), now) for limit in limits)
    refilled = []
    wait = 0.0
    for bucket, limit in zip(buckets, limits, strict=True):
        elapsed = max(0.0, now - bucket.at)
        tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.rate)
        refilled.append(Bucket(tokens, max(now, bucket.at)))
        if tokens < 1.0 - _EPSILON:
            wait = max(wait, (1.0 - tokens) / limit.rate)
    if wait > 0:
        return tuple(refilled), wait
    return tuple(Bucket(b.tokens - 1.0, b.at) for b in refilled), 0.0


class RateLimiter(Protocol):
    """Blocks callers so their calls stay under the limits."""

    def acquire(self) -> float:
        """Wait until one call may be made and take its token; the seconds waited."""
        ...

    def pause(self, seconds: float) -> None:
        """Make no call for `seconds` (the server said 429 and asked us to wait)."""
        ...

    @property
    def kind(self) -> str:
        """`local`, `redis`, or `local (redis unavailable)`: for logs and manifests."""
        ...


class LocalLimiter:
    """Token buckets in this process; thread-safe. Clock and sleep are injectable."""

    def __init__(
        self,
        limits: Sequence[Limit],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not limits:
            raise ValueError("a rate limiter needs at least one limit")
        self.limits = tuple(limits)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: tuple[Bucket, ...] | None = None
        self._paused_until = 0.0

    @property
    def kind(self) -> str:
        return "local"

    def try_acquire(self) -> float:
        """Take a token now if there is one (0.0), else the seconds to wait."""
        with self._lock:
            now = self._clock()
            if self._paused_until > now:
                return self._paused_until - now
            self._buckets, wait = take(self._buckets, self.limits, now)
            return wait

    def acquire(self) -> float:
        waited = 0.0
        while (wait := self.try_acquire()) > 0:
            self._sleep(wait)
            waited += wait
        return waited

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


# KEYS[1]: the bucket hash. ARGV: now in seconds ('' = the Redis server's clock, shared by every
# pod), key ttl in ms, pause in seconds (> 0: only record a pause), then burst and rate of
# each limit. Returns {1, 0} when a token was taken, else {0, microseconds to wait}.
_TAKE = """
local key = KEYS[1]
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local ttl = tonumber(ARGV[2])
local pause = tonumber(ARGV[3])
local paused = tonumber(redis.call('HGET', key, 'paused_until') or '0')
if pause > 0 then
  paused = math.max(paused, now + pause)
  redis.call('HSET', key, 'paused_until', string.format('%.6f', paused))
  redis.call('PEXPIRE', key, math.max(ttl, math.ceil(pause * 1000) + ttl))
  return {0, math.ceil(pause * 1000000)}
end
if paused > now then
  return {0, math.ceil((paused - now) * 1000000)}
end
local n = (#ARGV - 3) / 2
local tokens = {}
local wait = 0
for i = 1, n do
  local burst = tonumber(ARGV[2 + 2 * i])
  local rate = tonumber(ARGV[3 + 2 * i])
  local t = tonumber(redis.call('HGET', key, 't' .. i) or '')
  local at = tonumber(redis.call('HGET', key, 'a' .. i) or '')
  if t == nil or at == nil then
    t = burst
    at = now
  end
  t = math.min(burst, t + math.max(0, now - at) * rate)
  tokens[i] = t
  if t < 1 - 1e-9 then
    wait = math.max(wait, (1 - t) / rate)
  end
end
if wait > 0 then
  return {0, math.ceil(wait * 1000000)}
end
for i = 1, n do
  redis.call('HSET', key, 't' .. i, string.format('%.9f', tokens[i] - 1),
             'a' .. i, string.format('%.6f', now))
end
redis.call('PEXPIRE', key, ttl)
return {1, 0}
"""


class RedisLimiter:
    """Token buckets in one Redis hash, taken atomically by a Lua script, shared by all pods.

    Time comes from the Redis server unless a clock is injected (tests), so pods with skewed
    clocks still agree. When Redis fails, calls go through the local `fallback` limiter (which
    should hold this process's share of the limits) and Redis is tried again later.
    """

    def __init__(
        self,
        client: Any,
        key: str,
        limits: Sequence[Limit],
        *,
        fallback: LocalLimiter,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_redis_after: float = 30.0,
    ) -> None:
        if not limits:
            raise ValueError("a rate limiter needs at least one limit")
        self.client = client
        self.key = key
        self.limits = tuple(limits)
        self.fallback = fallback
        self._clock = clock
        self._sleep = sleep
        self._monotonic = time.monotonic
        self._retry_after = retry_redis_after
        self._down_since: float | None = None
        self._script: Any = None
        longest = max(limit.seconds for limit in self.limits)
        self._ttl_ms = math.ceil(longest * 2000)

    @property
    def kind(self) -> str:
        return "redis" if self._down_since is None else "local (redis unavailable)"

    def _args(self, pause: float) -> list[str]:
        now = "" if self._clock is None else repr(self._clock())
        args = [now, str(self._ttl_ms), repr(pause)]
        for limit in self.limits:
            args += [str(limit.burst), repr(limit.rate)]
        return args

    def _redis_usable(self) -> bool:
        if self._down_since is None:
            return True
        return self._monotonic() - self._down_since >= self._retry_after

    def _call(self, pause: float) -> tuple[bool, float] | None:
        """(granted, seconds to wait) from Redis, or None when Redis did not answer."""
        if not self._redis_usable():
            return None
        import redis

        try:
            if self._script is None:
                self._script = self.client.register_script(_TAKE)
            granted, micros = self._script(keys=[self.key], args=self._args(pause))
        except (redis.RedisError, OSError) as exc:
            if self._down_since is None:
                log.warning(
                    "Redis unavailable for the shared rate limit; using this pod's share "
                    "of the limits locally",
                    extra={"error": exc.__class__.__name__},
                )
            self._down_since = self._monotonic()
            return None
        if self._down_since is not None:
            log.info("Redis reachable again; rate limit shared again")
            self._down_since = None
        return bool(int(granted)), int(micros) / 1_000_000

    def try_acquire(self) -> float:
        """Take a token now if there is one (0.0), else the seconds to wait."""
        answer = self._call(0.0)
        if answer is None:
            return self.fallback.try_acquire()
        granted, wait = answer
        return 0.0 if granted else max(wait, 1e-6)

    def acquire(self) -> float:
        waited = 0.0
        while (wait := self.try_acquire()) > 0:
            self._sleep(wait)
            waited += wait
        return waited

    def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.fallback.pause(seconds)
        self._call(seconds)


def open_limiter(
    limits: Sequence[Limit],
    *,
    redis_client: Any | None = None,
    key: str | None = None,
    share: float = 1.0,
) -> RateLimiter:
    """The shared Redis limiter when Redis is configured, else a local one.

    `share` is this process's fraction of the limits (1/N for N shards) used whenever the
    limiter is local, so N pods limited independently still stay under the plan together.
    """
    local = LocalLimiter([limit.share(share) for limit in limits])
    if redis_client is None or key is None:
        return local
    return RedisLimiter(redis_client, key, limits, fallback=local)
