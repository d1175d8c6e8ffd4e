"""Sharding: which symbols (and whether the market-wide endpoints) one ingest pod fetches."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bucketpipe.config.errors import ConfigError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_of(symbol: str, count: int) -> int:
    """The shard that owns a symbol: a stable hash (the same in every process and release,
    unlike Python's `hash()`), modulo the number of shards."""
    digest = hashlib.sha256(symbol.strip().upper().encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based). Shard 0 also fetches the market-wide endpoints."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(
                f"invalid shard {self.index}/{self.count}: the index must be 0..{self.count - 1}"
            )

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def fetches_market(self) -> bool:
        return self.index == 0

    def owns(self, symbol: str) -> bool:
        return shard_of(symbol, self.count) == self.index

    def symbols(self, symbols: Iterable[str]) -> list[str]:
        """This shard's symbols, in the given order."""
        return [s for s in symbols if self.owns(s)]


def parse_shard(text: str) -> Shard:
    """`K/N` as typed after `--shard`."""
    match = _SHARD.match(text)
    if not match:
        raise ConfigError(f"--shard {text!r}: use K/N, e.g. --shard 0/3 for the first of three")
    return Shard(int(match.group(1)), int(match.group(2)))


def resolve_shard(
    shard: str | None, shards: int | None, completion_index: int | None
) -> Shard | None:
    """The shard this pod runs, from `--shard K/N`, or `--shards N` plus the Indexed Job's
    `JOB_COMPLETION_INDEX`; None when not sharded (one shard is no sharding)."""
    if shard is not None and shards is not None:
        raise ConfigError("give either --shard K/N or --shards N, not both")
    if shard is not None:
        chosen = parse_shard(shard)
    elif shards is not None:
        if completion_index is None:
            raise ConfigError(
                f"--shards {shards} needs JOB_COMPLETION_INDEX (set by Kubernetes in an Indexed "
                "Job); outside one, pick a shard with --shard K/N"
            )
        if shards < 1:
            raise ConfigError(f"--shards {shards}: give at least 1")
        if completion_index >= shards:
            raise ConfigError(
                f"JOB_COMPLETION_INDEX={completion_index} is not below --shards {shards}: set "
                "the Indexed Job's completions to the same number as --shards"
            )
        chosen = Shard(completion_index, shards)
    else:
        return None
    return None if chosen.count == 1 else chosen
