"""Latency statistics: percentiles, repetitions, ratios."""

from __future__ import annotations

import pytest

from benchmarks.stats import Latency, percentile, ratio, repeat


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)


def test_percentile_of_one_value() -> None:
    assert percentile([0.2], 95) == 0.2


@pytest.mark.parametrize("q", [-1, 101])
def test_percentile_outside_range(q: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], q)


def test_percentile_of_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_latency_summary() -> None:
    latency = Latency((0.3, 0.1, 0.2))
    assert latency.median == 0.2
    assert latency.p95 == pytest.approx(0.29)
    assert latency.as_dict()["runs"] == 3


def test_repeat_runs_warmup_then_measured_runs() -> None:
    calls: list[int] = []

    def work() -> int:
        calls.append(1)
        return len(calls)

    result, latency = repeat(work, 3, warmup=2)
    assert result == 5 and len(calls) == 5
    assert len(latency.samples) == 3


def test_repeat_needs_a_run() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        repeat(lambda: None, 0)


@pytest.mark.parametrize(
    ("a", "b", "expected"), [(10.0, 2.0, 5.0), (1.0, 0.0, None), (None, 1.0, None)]
)
def test_ratio(a: float | None, b: float | None, expected: float | None) -> None:
    assert ratio(a, b) == expected
