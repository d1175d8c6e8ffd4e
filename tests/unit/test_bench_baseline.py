"""The volume design's sentiment labels match the product's (0 % exactly is 'unchanged')."""

from __future__ import annotations

import math

import pytest

from benchmarks.baseline import sentiment


@pytest.mark.parametrize(
    ("change", "label"),
    [
        (2.5, "strong bullish"),
        (2.0, "bullish"),
        (0.01, "bullish"),
        (0.0, "unchanged"),
        (-0.5, "bearish"),
        (-2.0, "strong bearish"),
        (None, None),
        (math.nan, None),
    ],
)
def test_sentiment(change: float | None, label: str | None) -> None:
    assert sentiment(change) == label
