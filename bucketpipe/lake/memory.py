"""Sizing read buffers from the DuckDB memory limit, so small pods can still read raw JSON."""

from __future__ import annotations

from bucketpipe.config.values import parse_size

MAX_OBJECT = 64 * 1024 * 1024
MIN_OBJECT = 8 * 1024 * 1024


def max_json_object(memory_limit: str) -> int:
    """The largest raw JSON line to accept: DuckDB buffers twice that per reader, so keep it
    near a sixteenth of the memory limit, between 8 and 64 MiB."""
    try:
        limit = int(parse_size(memory_limit))
    except ValueError:
        return MAX_OBJECT
    return max(MIN_OBJECT, min(MAX_OBJECT, limit // 16))
