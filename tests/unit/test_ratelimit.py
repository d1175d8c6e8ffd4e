"""Token-bucket math: both windows respected, the quota used, pauses, shares."""

from __future__ import annotations

import bisect

import pytest

from bucketpipe.coord.ratelimit import (
    JITTER_S,
    Bucket,
    Limit,
    LocalLimiter,
    open_limiter,
    take,
)


class FakeClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def max_in_window(times: list[float], seconds: float) -> int:
    """The most grants in any half-open window [t, t + seconds)."""
    return max(bisect.bisect_left(times, t + seconds) - i for i, t in enumerate(times))


def simulate(limits: list[Limit], calls: int) -> tuple[list[float], FakeClock]:
    clock = FakeClock()
    limiter = LocalLimiter(limits, clock=clock, sleep=clock.sleep)
    granted = []
    for _ in range(calls):
        limiter.acquire()
        granted.append(clock.now)
    return granted, clock


def test_limit_shape_keeps_every_window_under_the_limit() -> None:
    free = Limit(60, 60.0)
    assert (free.burst, free.rate) == (1, 59 / 60)
    paid = Limit(300, 60.0)
    assert (paid.burst, paid.rate) == (5, 295 / 60)
    per_second = Limit(30, 1.0)
    assert (per_second.burst, per_second.slack, per_second.rate) == (1, 1, 29.0)
    # 90 calls a second allow 3 calls in a thirtieth of a second of jitter: 3 calls of slack.
    fast = Limit(90, 1.0)
    assert (fast.burst, fast.slack, fast.rate) == (1, 3, 87.0)
    assert Limit(1, 1.0).rate == 1.0  # never a rate of zero


@pytest.mark.parametrize(
    ("limit", "slack"),
    [(Limit(60, 60.0), 1), (Limit(600, 12.0), 2), (Limit(30, 1.0), 1), (Limit(150, 1.0), 5)],
)
def test_every_window_leaves_the_jitter_slack_unused(limit: Limit, slack: int) -> None:
    """Calls granted up to `JITTER_S` late still fit: no window sees more than
    `calls - slack`."""
    assert limit.slack == slack
    granted, _ = simulate([limit], 4 * limit.calls)
    # Every other call reaches the server as late as the slack allows.
    late = [t + (JITTER_S if i % 2 else 0.0) for i, t in enumerate(granted)]
    assert max_in_window(granted, limit.seconds) <= limit.calls - slack
    assert max_in_window(sorted(late), limit.seconds) <= limit.calls


@pytest.mark.parametrize(("calls", "seconds"), [(0, 60.0), (10, 0.0), (-1, 1.0)])
def test_invalid_limits_are_refused(calls: int, seconds: float) -> None:
    with pytest.raises(ValueError, match="invalid rate limit"):
        Limit(calls, seconds)


def test_take_grants_the_burst_then_says_how_long_to_wait() -> None:
    limits = [Limit(60, 60.0), Limit(30, 1.0)]
    buckets, wait = take(None, limits, 0.0)
    assert wait == 0.0
    assert buckets == (Bucket(0.0, 0.0), Bucket(0.0, 0.0))
    again, wait = take(buckets, limits, 0.5)
    assert wait == pytest.approx((1 - 0.5 * 59 / 60) / (59 / 60))
    assert again[0].tokens == pytest.approx(0.5 * 59 / 60)  # refilled, nothing taken
    _, wait = take(again, limits, 60 / 59)
    assert wait == 0.0


def test_take_waits_for_the_emptier_bucket() -> None:
    # The per-second bucket is empty, the minute bucket has plenty.
    limits = [Limit(6000, 60.0), Limit(30, 1.0)]
    _, wait = take((Bucket(50.0, 0.0), Bucket(0.0, 0.0)), limits, 0.0)
    assert wait == pytest.approx(1 / 29)


def test_take_ignores_a_clock_going_backwards() -> None:
    limits = [Limit(60, 60.0)]
    buckets, _ = take(None, limits, 100.0)
    after, wait = take(buckets, limits, 50.0)
    assert wait > 0
    assert after[0].at == 100.0


@pytest.mark.parametrize(
    ("limits", "calls", "binding"),
    [
        ([Limit(60, 60.0), Limit(30, 1.0)], 1200, (60, 60.0)),  # free plan: 20 minutes
        ([Limit(300, 60.0), Limit(30, 1.0)], 3000, (300, 60.0)),  # a paid plan
        ([Limit(3000, 60.0), Limit(30, 1.0)], 3000, (30, 1.0)),  # the per-second limit binds
    ],
)
def test_long_runs_use_the_quota_and_never_exceed_either_window(
    limits: list[Limit], calls: int, binding: tuple[int, float]
) -> None:
    granted, _ = simulate(limits, calls)
    for limit in limits:
        assert max_in_window(granted, limit.seconds) <= limit.calls
    allowed, window = binding
    elapsed = granted[-1] - granted[0]
    use = (calls - 1) / (elapsed / window * allowed)
    print(f"quota use {use:.1%} of {allowed}/{window:g}s over {elapsed:.0f}s ({calls} calls)")
    assert use >= 0.95


def test_pause_holds_every_caller_back() -> None:
    clock = FakeClock()
    limiter = LocalLimiter([Limit(600, 60.0)], clock=clock, sleep=clock.sleep)
    assert limiter.try_acquire() == 0.0
    limiter.pause(5.0)
    assert limiter.try_acquire() == pytest.approx(5.0)
    assert limiter.acquire() == pytest.approx(5.0)
    assert clock.slept == [pytest.approx(5.0)]
    limiter.pause(1.0)
    limiter.pause(0.5)  # a shorter pause does not shorten a longer one
    assert limiter.try_acquire() == pytest.approx(1.0)


def test_a_share_of_the_limits_for_independent_shards() -> None:
    assert Limit(60, 60.0).share(1 / 3) == Limit(20, 60.0)
    assert Limit(2, 1.0).share(1 / 4) == Limit(1, 1.0)
    limiter = open_limiter([Limit(60, 60.0), Limit(30, 1.0)], share=0.5)
    assert isinstance(limiter, LocalLimiter)
    assert limiter.limits == (Limit(30, 60.0), Limit(15, 1.0))
    assert limiter.kind == "local"


def test_a_limiter_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="at least one limit"):
        LocalLimiter([])
