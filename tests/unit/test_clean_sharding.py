"""Which shard of a sharded clean cleans a dataset: decided from the name alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bucketpipe import catalog
from bucketpipe.clean.sharding import CleanShard, shard_of
from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.jobs.cli import build_parser

RAW_DATASETS = sorted(s.name for s in catalog.specs() if not s.derived_from)


@pytest.mark.parametrize("count", [1, 2, 3, 10])
def test_every_dataset_has_exactly_one_shard(count: int) -> None:
    for name in [*RAW_DATASETS, "sensor", "orders_2026"]:
        owners = [i for i in range(count) if CleanShard(i, count).owns(name)]
        assert owners == [shard_of(name, count)]


def test_catalog_datasets_are_spread_evenly() -> None:
    spread = Counter(shard_of(name, 3) for name in RAW_DATASETS)
    assert max(spread.values()) - min(spread.values()) <= 1
    assert set(spread) == {0, 1, 2}


def test_generic_datasets_go_by_a_stable_hash() -> None:
    # The same in every process and release (Python's hash() is salted per process).
    # Pinned values: a change here re-deals the datasets of running deployments.
    assert [shard_of("sensor", 10), shard_of("orders_2026", 10)] == [9, 4]
    assert {shard_of(f"files_{n}", 4) for n in range(40)} == {0, 1, 2, 3}


@pytest.mark.parametrize(("index", "count"), [(3, 3), (-1, 2), (0, 0)])
def test_an_impossible_shard_is_refused(index: int, count: int) -> None:
    with pytest.raises(ConfigError):
        CleanShard(index, count)


@pytest.mark.parametrize(
    "args",
    [
        ["clean", "--watch", "--shards", "3"],
        ["clean", "--rebuild", "quotes", "--shard", "0/3"],
    ],
)
def test_sharding_applies_to_a_clean_run_only(args: list[str], tmp_path: Path) -> None:
    parsed = build_parser().parse_args(args)
    settings = Settings(lake=str(tmp_path / "lake"), temp_dir=str(tmp_path / "tmp"))
    with pytest.raises(ConfigError, match="--shard"):
        parsed.handler(parsed, settings)
    assert not (tmp_path / "lake").exists()  # refused before anything was opened
