"""Tables handed to people as CSV, with formula-like text made inert.

Lake data come from files anyone could drop in a source bucket. A text cell such as
`=cmd|' /C calc'!A0` or `@SUM(...)` is only text to Bucketpipe, but a spreadsheet that opens
the exported CSV would run it as a formula (CSV injection). Text cells that start with `=`,
`+`, `-`, `@`, a tab or a carriage return are exported with a leading `'`, which spreadsheets
show as text; numbers (negative ones included) are left alone.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """The cell as exported: formula-like text gets a leading `'`, anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text columns have formula-like cells neutralised."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(neutralise).astype(object)
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV text, safe to open in a spreadsheet."""
    return str(safe_frame(frame).to_csv(index=False))


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV, safe to open in a spreadsheet."""
    return csv_text(frame).encode()
