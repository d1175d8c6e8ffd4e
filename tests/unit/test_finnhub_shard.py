"""Shards: a stable split of the symbols, and how a pod learns which shard it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bucketpipe.config.errors import ConfigError
from bucketpipe.ingest.finnhub.shard import Shard, parse_shard, resolve_shard, shard_of

DEFAULT = ["AAPL", "GOOGL", "MSFT", "TSLA", "AMZN", "NVDA", "META"]


def test_the_split_is_pinned_so_releases_and_processes_agree() -> None:
    assert {s: shard_of(s, 2) for s in DEFAULT} == {
        "AAPL": 1, "GOOGL": 1, "MSFT": 1, "TSLA": 1, "AMZN": 0, "NVDA": 0, "META": 0,
    }  # fmt: skip
    assert {s: shard_of(s, 3) for s in DEFAULT} == {
        "AAPL": 1, "GOOGL": 0, "MSFT": 1, "TSLA": 1, "AMZN": 2, "NVDA": 0, "META": 0,
    }  # fmt: skip
    assert shard_of(" aapl ", 3) == shard_of("AAPL", 3)


def test_the_split_does_not_depend_on_pythons_hash_seed() -> None:
    code = "from bucketpipe.ingest.finnhub.shard import shard_of; print(shard_of('NVDA', 5))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outputs == {str(shard_of("NVDA", 5))}


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_every_symbol_is_in_exactly_one_shard(count: int) -> None:
    symbols = [f"SYM{i}" for i in range(100)]
    parts = [Shard(i, count).symbols(symbols) for i in range(count)]
    assert sorted(s for part in parts for s in part) == sorted(symbols)
    assert sum(len(p) for p in parts) == len(symbols)
    if count > 1:
        assert all(len(p) > 100 / count / 3 for p in parts)  # roughly balanced


def test_only_shard_zero_fetches_market_data() -> None:
    assert Shard(0, 3).fetches_market
    assert not Shard(2, 3).fetches_market
    assert Shard(2, 3).label == "2/3"


@pytest.mark.parametrize(("text", "shard"), [("0/3", Shard(0, 3)), (" 2 / 3 ", Shard(2, 3))])
def test_parse_shard(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard


@pytest.mark.parametrize(
    ("text", "message"),
    [("3/3", "index must be 0..2"), ("1", "use K/N"), ("a/b", "use K/N"), ("0/0", "invalid")],
)
def test_bad_shards(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_shard(text)


def test_resolve_shard() -> None:
    assert resolve_shard(None, None, None) is None
    assert resolve_shard(None, None, 4) is None  # an index without --shards is ignored
    assert resolve_shard("1/4", None, None) == Shard(1, 4)
    assert resolve_shard(None, 4, 3) == Shard(3, 4)
    assert resolve_shard("0/1", None, None) is None
    assert resolve_shard(None, 1, 0) is None


@pytest.mark.parametrize(
    ("shard", "shards", "index", "message"),
    [
        ("0/2", 2, 0, "not both"),
        (None, 3, None, "needs JOB_COMPLETION_INDEX"),
        (None, 3, 3, "JOB_COMPLETION_INDEX=3 is not below --shards 3"),
        (None, 0, 0, "at least 1"),
    ],
)
def test_resolve_shard_errors(
    shard: str | None, shards: int | None, index: int | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_shard(shard, shards, index)
