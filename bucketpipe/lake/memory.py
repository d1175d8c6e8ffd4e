"""Sizing read buffers from the DuckDB memory limit, so small pods can still read raw JSON."""

from __future__ import annotations

import re

MAX_OBJECT = 64 * 1024 * 1024
MIN_OBJECT = 8 * 1024 * 1024
_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_UNITS |= {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def parse_size(text: str) -> int | None:
    """`"256MB"` -> bytes (DuckDB's units: KB/MB/GB are 1000-based, KiB/MiB/GiB 1024-based)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)\s*", text.upper())
    if not match or match.group(2) not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def max_json_object(memory_limit: str) -> int:
    """The largest raw JSON line to accept: DuckDB buffers twice that per reader, so keep it
    near a sixteenth of the memory limit, between 8 and 64 MiB."""
    limit = parse_size(memory_limit)
    if limit is None:
        return MAX_OBJECT
    return max(MIN_OBJECT, min(MAX_OBJECT, limit // 16))
