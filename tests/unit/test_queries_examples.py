"""The SQL explorer's examples: shown only when their views exist, and all valid SQL."""

from __future__ import annotations

import pytest

from bucketpipe.serve.queries import examples
from bucketpipe.serve.sandbox import validate_sql


def test_examples_follow_the_views() -> None:
    assert [e.title for e in examples.available([])] == ["Columns of every dataset"]
    quotes_only = {e.title for e in examples.available(["quotes"])}
    assert "Latest quote per symbol" in quotes_only
    assert "MACD crossovers" not in quotes_only
    assert len(examples.available(["quotes", "daily_indicators"])) > len(quotes_only)


@pytest.mark.parametrize("example", examples.EXAMPLES, ids=lambda e: e.title)
def test_every_example_passes_the_sandbox_validator(example: examples.Example) -> None:
    assert validate_sql(example.sql)
