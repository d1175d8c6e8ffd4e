"""The SQL explorer's examples: shown only when their views exist (the validator tests check
that every one of them passes)."""

from __future__ import annotations

from bucketpipe.serve.queries import examples


def test_examples_follow_the_views() -> None:
    assert [e.title for e in examples.available([])] == ["Columns of every dataset"]
    quotes_only = {e.title for e in examples.available(["quotes"])}
    assert "Latest quote per symbol" in quotes_only
    assert "MACD crossovers" not in quotes_only
    assert len(examples.available(["quotes", "daily_indicators"])) > len(quotes_only)
