"""Aggregates of a dataset slice for the Explore charts: samples, top values, series, pivots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from bucketpipe.lake.duck import quote_ident, quote_literal
from bucketpipe.serve.queries.base import frame
from bucketpipe.serve.queries.explore import Slice

AGGREGATES = {"mean": "avg", "sum": "sum", "min": "min", "max": "max", "median": "median"}
AGGREGATES["count"] = "count"
BUCKETS = {"hour": "1 hour", "day": "1 day", "week": "1 week", "month": "1 month"}


SAMPLE_ROWS = 20_000


def sample_sql(sl: Slice, cols: Sequence[str], n: int = SAMPLE_ROWS) -> tuple[str, list[Any]]:
    """Up to `n` rows of the slice, sampled reproducibly: the rows every sampled chart draws."""
    sql, params = sl.select(cols)
    return f"SELECT * FROM ({sql}) USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE (7)", params


def sample(
    con: duckdb.DuckDBPyConnection, sl: Slice, cols: Sequence[str], n: int = SAMPLE_ROWS
) -> pd.DataFrame:
    """Up to `n` rows of the slice, sampled reproducibly (for charts)."""
    if not cols:
        return pd.DataFrame()
    return frame(con, *sample_sql(sl, cols, n))


def sample_note(rows: int, n: int = SAMPLE_ROWS) -> str:
    """What the charts of a sample of `rows` rows show: every row when fewer than `n` came."""
    if rows < n:
        return f"Charts use all {rows:,} row{'' if rows == 1 else 's'}."
    return f"Charts use a sample of {rows:,} rows."


def correlations(data: pd.DataFrame, numeric: Sequence[str]) -> pd.DataFrame:
    """Pearson correlations between numeric columns that vary (pure)."""
    usable = correlated(data, numeric)
    if len(usable) < 2:
        return pd.DataFrame()
    values = data[usable].apply(pd.to_numeric, errors="coerce")
    matrix: pd.DataFrame = values.corr().round(3)
    return matrix


def correlated(data: pd.DataFrame, numeric: Sequence[str]) -> list[str]:
    """The numeric columns of the sample whose values vary (a constant has no correlation)."""
    return [c for c in numeric if c in data and data[c].nunique(dropna=True) > 1]


def correlations_sql(sl: Slice, cols: Sequence[str], n: int = SAMPLE_ROWS) -> tuple[str, list[Any]]:
    """The correlation matrix's figures in SQL, over the charts' sample (one row per pair)."""
    sql, params = sample_sql(sl, cols, n)
    pairs = [(a, b) for i, a in enumerate(cols) for b in cols[i + 1 :]]
    rows = " UNION ALL ".join(
        f"SELECT {quote_literal(a)} AS x, {quote_literal(b)} AS y, "
        f"round(corr(CAST({quote_ident(a)} AS DOUBLE), CAST({quote_ident(b)} AS DOUBLE)), 3) "
        "AS pearson FROM s"
        for a, b in pairs
    )
    return f"WITH s AS ({sql})\n{rows}", params


def top_values_sql(sl: Slice, column: str, n: int = 10) -> tuple[str, list[Any]]:
    """The `n` most frequent values of a column with counts and shares (NULL included)."""
    sql, params = sl.select([column])
    c = quote_ident(column)
    return (
        f"SELECT CAST({c} AS VARCHAR) AS value, count(*) AS rows, "
        f"round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct "
        f"FROM ({sql}) GROUP BY {c} ORDER BY rows DESC, value LIMIT {int(n)}",
        params,
    )


def top_values(con: duckdb.DuckDBPyConnection, sl: Slice, column: str, n: int = 10) -> pd.DataFrame:
    """The `n` most frequent values of a column with counts and shares (NULL included)."""
    return frame(con, *top_values_sql(sl, column, n))


OTHERS = "others"


def series_sql(
    sl: Slice,
    value: str | None,
    *,
    bucket: str = "day",
    agg: str = "mean",
    by: str | None = None,
    max_groups: int = 8,
) -> tuple[str, list[Any]]:
    """The query behind `series` (shown beside the chart as it runs)."""
    t = quote_ident(sl.time_column or "")
    interval = BUCKETS[bucket]
    measure = "count(*)" if value is None else f"{AGGREGATES[agg]}({quote_ident(value)})"
    sql, params = sl.select()
    stamp = f"time_bucket(INTERVAL '{interval}', CAST({t} AS TIMESTAMPTZ)) AS bucket"
    if by is None:
        return f"SELECT {stamp}, {measure} AS value FROM ({sql}) GROUP BY ALL ORDER BY ALL", params
    # The `max_groups` most common values get a line each; the rest are pooled as "others".
    b = f"CAST({quote_ident(by)} AS VARCHAR)"
    top = f"SELECT {b} FROM ({sql}) GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {int(max_groups)}"
    group = f"CASE WHEN {b} IN ({top}) THEN {b} ELSE '{OTHERS}' END"
    return (
        f"SELECT {stamp}, {group} AS {quote_ident('group')}, {measure} AS value "
        f"FROM ({sql}) GROUP BY ALL ORDER BY ALL",
        params + params,
    )


def series(
    con: duckdb.DuckDBPyConnection,
    sl: Slice,
    value: str | None,
    *,
    bucket: str = "day",
    agg: str = "mean",
    by: str | None = None,
    max_groups: int = 8,
) -> pd.DataFrame:
    """`agg` of `value` (rows when None) per time bucket, one line per value of `by`.

    The `max_groups` most common values of `by` get a line each and the rest one "others" line.
    """
    if sl.time_column is None:
        return pd.DataFrame()
    sql, params = series_sql(sl, value, bucket=bucket, agg=agg, by=by, max_groups=max_groups)
    return frame(con, sql, params)


def auto_bucket(start: Any, end: Any) -> str:
    """A bucket giving a readable number of points for the span (pure)."""
    if start is None or end is None:
        return "day"
    span = pd.Timestamp(end) - pd.Timestamp(start)
    if span <= pd.Timedelta(days=3):
        return "hour"
    if span <= pd.Timedelta(days=180):
        return "day"
    if span <= pd.Timedelta(days=1500):
        return "week"
    return "month"


def pivot_sql(
    sl: Slice,
    rows: str,
    cols: str,
    value: str | None,
    agg: str = "mean",
    limit: int = 25,
    *,
    cols_are_time: bool = False,
) -> tuple[str, list[Any]]:
    """The query behind `pivot` (shown beside the heatmap)."""
    sql, params = sl.select()
    r = f"CAST({quote_ident(rows)} AS VARCHAR)"
    if cols_are_time:
        c = f"CAST(CAST({quote_ident(cols)} AS DATE) AS VARCHAR)"
        pick_cols = f"SELECT DISTINCT {c} AS k FROM ({sql}) ORDER BY k DESC LIMIT {int(limit)}"
    else:
        c = f"CAST({quote_ident(cols)} AS VARCHAR)"
        pick_cols = f"SELECT {c} FROM ({sql}) GROUP BY 1 ORDER BY count(*) DESC LIMIT {int(limit)}"
    pick_rows = f"SELECT {r} FROM ({sql}) GROUP BY 1 ORDER BY count(*) DESC LIMIT {int(limit)}"
    measure = "count(*)" if value is None else f"{AGGREGATES[agg]}({quote_ident(value)})"
    return (
        f"SELECT {r} AS r, {c} AS c, {measure} AS v FROM ({sql}) "
        f"WHERE {r} IN ({pick_rows}) AND {c} IN ({pick_cols}) GROUP BY ALL",
        params * 3,
    )


def pivot(
    con: duckdb.DuckDBPyConnection,
    sl: Slice,
    rows: str,
    cols: str,
    value: str | None,
    agg: str = "mean",
    limit: int = 25,
    *,
    cols_are_time: bool = False,
) -> pd.DataFrame:
    """A `rows` x `cols` matrix of `agg(value)`.

    Rows are the `limit` most common values of `rows`; columns likewise, or for a time column
    its newest `limit` days.
    """
    sql, params = pivot_sql(sl, rows, cols, value, agg, limit, cols_are_time=cols_are_time)
    long = frame(con, sql, params)
    if long.empty:
        return pd.DataFrame()
    return long.pivot(index="r", columns="c", values="v").sort_index().sort_index(axis=1)
