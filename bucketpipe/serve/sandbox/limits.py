"""The bounds of one user query, taken from settings; a caller may ask for less, never more."""

from __future__ import annotations

from dataclasses import dataclass

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.config.values import parse_size

MIB = 1 << 20
# What the worker may hold beyond DuckDB's memory limit: the interpreter, pyarrow, DuckDB's
# allocations outside its buffer manager (lists and strings in flight) and the result.
RSS_HEADROOM = 512 * MIB


def parse_bytes(text: str) -> int:
    """A DuckDB size (`1GB` = 10^9, `1GiB` = 2^30, `512MB`, `100000`) in bytes."""
    try:
        return int(parse_size(text))
    except ValueError:
        raise ConfigError(f"{text!r} is not a size such as 1GB or 512MiB") from None


def format_bytes(size: int) -> str:
    """`67108864` -> `64 MiB`, `65536` -> `64 KiB` (for messages)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:,.4g} {unit}"
    return f"{size:,} bytes"


@dataclass(frozen=True)
class Limits:
    """Row cap, byte cap, time limit and the worker's resident-memory cap."""

    max_rows: int
    max_bytes: int
    timeout_s: float
    rss_cap: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_rows=settings.sql_max_rows,
            max_bytes=settings.sql_max_result_bytes,
            timeout_s=settings.sql_timeout_seconds,
            rss_cap=parse_bytes(settings.duckdb_memory_limit) + RSS_HEADROOM,
        )

    def rows(self, asked: int | None) -> int:
        """The row cap of one query: what the caller asked for, at most the setting."""
        return max(1, min(asked or self.max_rows, self.max_rows))

    def seconds(self, asked: float | None) -> float:
        """The time limit of one query: what the caller asked for, at most the setting."""
        return max(0.1, min(asked or self.timeout_s, self.timeout_s))
