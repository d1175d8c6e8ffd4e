"""Latency statistics of repeated runs: median and 95th percentile, nothing fancier."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Latency:
    """Seconds of each repetition, and their median and p95."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_s": round(self.median, 6),
            "p95_s": round(self.p95, 6),
            "runs": len(self.samples),
            "samples_s": [round(s, 6) for s in self.samples],
        }


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """fn's result and the wall-clock seconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def repeat(fn: Callable[[], T], runs: int, *, warmup: int = 1) -> tuple[T, Latency]:
    """Run `fn` `warmup` times unmeasured, then `runs` times measured; the last result."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    result: T | None = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(runs):
        result, seconds = timed(fn)
        samples.append(seconds)
    assert result is not None
    return result, Latency(tuple(samples))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator
