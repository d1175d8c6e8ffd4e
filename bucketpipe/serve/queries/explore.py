"""Exploring any dataset: a time slice, statistics, distributions, relations, pages, exports."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from bucketpipe import catalog
from bucketpipe.lake.duck import quote_ident
from bucketpipe.serve.exports import csv_bytes
from bucketpipe.serve.queries.base import columns, frame, is_numeric, is_time, select_list

# Time windows of the explorer; each ends at the dataset's newest row.
WINDOWS: dict[str, timedelta | None] = {
    "1 h": timedelta(hours=1),
    "6 h": timedelta(hours=6),
    "1 d": timedelta(days=1),
    "1 w": timedelta(weeks=1),
    "30 d": timedelta(days=30),
    "All": None,
}
EXPORT_MAX_ROWS = 1_000_000
# The mark before a figure that is an estimate.
ESTIMATE = "\u2248 "
# Distinct counts up to this are exact; above it the estimate is shown, marked "≈".
EXACT_DISTINCT_MAX = 1_000_000
TIME_NAMES = ("ts", "timestamp", "time", "datetime", "date", "day", "published_at")


def time_column(dataset: str, cols: dict[str, str]) -> str | None:
    """The column the time filter applies to: the catalog's, else the first time-typed one.

    Lineage (`_ingested_at`, `_fetched_at`) comes before the `dt` partition as a last resort.
    """
    try:
        declared = catalog.get(dataset).time_column
    except KeyError:
        declared = None
    if declared and declared in cols:
        return declared
    timed = [c for c, t in cols.items() if is_time(t)]
    for name in TIME_NAMES:
        if name in timed:
            return name
    plain = [c for c in timed if not c.startswith("_") and c != "dt"]
    for fallback in (*plain, "_ingested_at", "_fetched_at", "dt"):
        if fallback in timed:
            return fallback
    return None


OUTLIER_FLAGS = "_outlier_columns"  # a generic row's columns whose value clean flagged


@dataclass(frozen=True)
class Slice:
    """A dataset restricted to rows whose time column lies in [start, end], or in (start, end]
    when `after` (a window: the rows newer than its start); without the rows clean flagged as
    outliers (`_outlier_columns`) when `outliers` is False."""

    dataset: str
    time_column: str | None = None
    start: datetime | date | None = None
    end: datetime | date | None = None
    after: bool = False
    outliers: bool = True

    def where(self) -> tuple[str, list[Any]]:
        parts: list[str] = [] if self.outliers else [f"{OUTLIER_FLAGS} IS NULL"]
        params: list[Any] = []
        if self.time_column is None:
            return (" AND ".join(parts) or "true"), params
        t = quote_ident(self.time_column)
        if self.start is not None:
            parts.append(f"{t} > ?" if self.after else f"{t} >= ?")
            params.append(self.start)
        if self.end is not None:
            parts.append(f"{t} <= ?")
            params.append(self.end)
        return (" AND ".join(parts) or "true"), params

    def select(self, cols: Sequence[str] | None = None) -> tuple[str, list[Any]]:
        where, params = self.where()
        what = select_list(cols) if cols else "*"
        return f"SELECT {what} FROM {quote_ident(self.dataset)} WHERE {where}", params


def window(newest: datetime | date | None, name: str) -> datetime | date | None:
    """Start of the named window ending at `newest` (None: no lower bound): for times the
    window holds the rows newer than it, for dates the days from it on."""
    span = WINDOWS.get(name)
    if span is None or newest is None:
        return None
    if isinstance(newest, datetime):
        return newest - span
    # A date column: a window shorter than a day still shows the newest day.
    return newest - timedelta(days=max(0, span.days - 1))


def windowed(dataset: str, column: str, newest: datetime | date | None, name: str) -> Slice:
    """The rows in the named window ending at `newest`: half-open, so "1 h" of snapshots every
    15 minutes holds four of them, not five."""
    start = window(newest, name)
    return Slice(dataset, column, start, None, after=isinstance(start, datetime))


def time_bounds(con: duckdb.DuckDBPyConnection, sl: Slice) -> tuple[Any, Any]:
    """Oldest and newest value of the slice's time column."""
    if sl.time_column is None:
        return None, None
    t = quote_ident(sl.time_column)
    sql, params = sl.select()
    row = con.execute(f"SELECT min({t}), max({t}) FROM ({sql})", params).fetchone()
    return (row[0], row[1]) if row else (None, None)


def count_sql(sl: Slice) -> tuple[str, list[Any]]:
    sql, params = sl.select()
    return f"SELECT count(*) AS rows FROM ({sql})", params


def count(con: duckdb.DuckDBPyConnection, sl: Slice) -> int:
    row = con.execute(*count_sql(sl)).fetchone()
    return int(row[0]) if row else 0


def profile(con: duckdb.DuckDBPyConnection, sl: Slice, cols: Sequence[str]) -> pd.DataFrame:
    """Per column: type, count, null %, distinct, min, max, mean, std, quartiles.

    SUMMARIZE's distinct count is a HyperLogLog estimate (it said 216 distinct values in 195
    rows); columns it puts at or under EXACT_DISTINCT_MAX are counted exactly, the others keep
    the estimate, at most their count of non-null values, and `distinct_exact` False, which
    the page shows as "≈". Its quartiles are estimates too (11 % off on a price column): a
    slice of at most EXACT_DISTINCT_MAX rows gets exact ones (interpolated for numbers, a
    value that occurs for times) in the same scan as the distinct counts, and
    `quantiles_exact` True; a larger one keeps the estimates, shown as "≈".
    """
    if not cols:
        return pd.DataFrame()
    sql, params = sl.select(cols)
    out = _renamed(frame(con, f"SUMMARIZE {sql}", params))
    out["distinct_exact"] = False
    rows = int(out["count"].max()) if len(out) else 0
    estimates = list(zip(out["column"], out["distinct"], strict=True))
    small = [str(c) for c, n in estimates if int(n) <= EXACT_DISTINCT_MAX]
    large = [str(c) for c, n in estimates if int(n) > EXACT_DISTINCT_MAX]
    ranked: dict[str, str] = {}
    if rows <= EXACT_DISTINCT_MAX:
        types = dict(zip(out["column"].astype(str), out["type"].astype(str), strict=True))
        ranked = ranked_types(types, list(types))
    out["quantiles_exact"] = rows <= EXACT_DISTINCT_MAX
    if small or ranked:
        sql_exact, params_exact = exact_sql(sl, small, ranked)
        row = con.execute(sql_exact, params_exact).fetchone() or ()
        exact = dict(zip(small, row[: len(small)], strict=True))
        known = out["column"].isin(small)
        out.loc[known, "distinct"] = out.loc[known, "column"].map(exact)
        out.loc[known, "distinct_exact"] = True
        figures = iter(row[len(small) :])
        for name in ranked:
            at = out["column"] == name
            for stat in QUARTILES:
                out.loc[at, stat] = next(figures)
    if large:
        # An estimate can exceed the values there are: no column has more distinct values
        # than non-null ones, which SUMMARIZE gives (its row count and null percentage).
        guessed = out["column"].isin(large)
        present = out.loc[guessed, "count"].astype(float) * (
            1 - out.loc[guessed, "null_pct"].astype(float) / 100
        )
        out.loc[guessed, "distinct"] = [
            min(int(n), round(p))
            for n, p in zip(out.loc[guessed, "distinct"], present, strict=True)
        ]
    return out


QUARTILES = ("p25", "median", "p75")


def ranked_types(types: dict[str, str], cols: Sequence[str]) -> dict[str, str]:
    """The columns of `cols` that have quartiles (numbers and times), with their types."""
    return {c: types[c] for c in cols if is_numeric(types[c]) or is_time(types[c])}


def distinct_sql(sl: Slice, cols: Sequence[str]) -> tuple[str, list[Any]]:
    """Exact distinct counts of `cols` in one scan."""
    return exact_sql(sl, cols, {})


def exact_sql(sl: Slice, distinct: Sequence[str], ranked: dict[str, str]) -> tuple[str, list[Any]]:
    """Exact distinct counts of `distinct`, then the quartiles of each column of `ranked`
    (name: type) as text, in one scan: interpolated for numbers, a value that occurs for times."""
    sql, params = sl.select(list(dict.fromkeys([*distinct, *ranked])))
    figures = [f"count(DISTINCT {quote_ident(c)}) AS {quote_ident(c)}" for c in distinct]
    for name, typ in ranked.items():
        c = quote_ident(name)
        of = f"quantile_cont(CAST({c} AS DOUBLE), " if is_numeric(typ) else f"quantile_disc({c}, "
        figures += [f"CAST({of}{q}) AS VARCHAR)" for q in (0.25, 0.5, 0.75)]
    return f"SELECT {', '.join(figures)} FROM ({sql})", params


def _renamed(out: pd.DataFrame) -> pd.DataFrame:
    return out.rename(
        columns={
            "column_name": "column",
            "column_type": "type",
            "approx_unique": "distinct",
            "avg": "mean",
            "q25": "p25",
            "q50": "median",
            "q75": "p75",
            "null_percentage": "null_pct",
        }
    )


@dataclass(frozen=True)
class PivotExtent:
    """How many values the pivot's two dimensions have in a slice (days for a time one)."""

    rows: int
    cols: int
    first: Any = None
    last: Any = None


def pivot_extent(
    con: duckdb.DuckDBPyConnection, sl: Slice, rows: str, cols: str, *, cols_are_time: bool
) -> PivotExtent:
    """Distinct values of `rows` and of `cols` (days, with the first and last, for time)."""
    sql, params = sl.select([rows, cols])
    r, c = quote_ident(rows), quote_ident(cols)
    key = f"CAST({c} AS DATE)" if cols_are_time else c
    counts = f"count(DISTINCT {r}), count(DISTINCT {key}), min({key}), max({key})"
    found = con.execute(f"SELECT {counts} FROM ({sql})", params).fetchone()
    n_rows, n_cols, first, last = found if found else (0, 0, None, None)
    if not cols_are_time:
        first = last = None
    return PivotExtent(int(n_rows), int(n_cols), first, last)


def page(
    con: duckdb.DuckDBPyConnection,
    sl: Slice,
    cols: Sequence[str],
    *,
    offset: int = 0,
    limit: int = 100,
    newest_first: bool = True,
) -> pd.DataFrame:
    """One page of rows (ordered by time when the slice has a time column)."""
    sql, params = sl.select(cols)
    order = ""
    if sl.time_column is not None and sl.time_column in cols:
        direction = "DESC" if newest_first else "ASC"
        order = f" ORDER BY {quote_ident(sl.time_column)} {direction} NULLS LAST"
    return frame(con, f"{sql}{order} LIMIT {int(limit)} OFFSET {max(0, int(offset))}", params)


def export(
    con: duckdb.DuckDBPyConnection, sl: Slice, cols: Sequence[str], fmt: str
) -> tuple[bytes, bool]:
    """The slice as CSV or Parquet bytes (at most EXPORT_MAX_ROWS; True if cut short)."""
    sql, params = sl.select(cols)
    table = con.execute(f"{sql} LIMIT {EXPORT_MAX_ROWS + 1}", params).to_arrow_table()
    truncated = table.num_rows > EXPORT_MAX_ROWS
    table = table.slice(0, EXPORT_MAX_ROWS)
    if fmt == "parquet":
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        return buffer.getvalue(), truncated
    if fmt == "csv":
        return csv_bytes(table.to_pandas()), truncated
    raise ValueError(f"unknown export format {fmt!r}")


def kinds(cols: dict[str, str]) -> dict[str, list[str]]:
    """Columns split into numeric, time and categorical (text, bool); lineage left out."""
    out: dict[str, list[str]] = {"numeric": [], "time": [], "categorical": []}
    # The `dt` partition is the day a row was stored; it counts only when nothing else is time.
    has_time = any(is_time(t) for c, t in cols.items() if c != "dt" and not c.startswith("_"))
    for name, typ in cols.items():
        if name.startswith("_") or (name == "dt" and has_time):
            continue
        if is_numeric(typ):
            out["numeric"].append(name)
        elif is_time(typ):
            out["time"].append(name)
        elif typ.upper() in ("VARCHAR", "BOOLEAN") or typ.upper().startswith("ENUM"):
            out["categorical"].append(name)
    return out


ENTITY_NAMES = ("symbol", "ticker", "category", "source", "city", "name")


def entity_column(categorical: Sequence[str]) -> str | None:
    """The column a time series is split by by default: what each row is about."""
    for name in ENTITY_NAMES:
        if name in categorical:
            return name
    return categorical[0] if categorical else None


def dataset_columns(con: duckdb.DuckDBPyConnection, dataset: str) -> dict[str, str]:
    return columns(con, dataset)


@dataclass(frozen=True)
class ColumnStats:
    """Exact figures of one column in a slice."""

    column: str
    type: str
    rows: int
    non_null: int
    distinct: int
    minimum: Any
    maximum: Any

    @property
    def null_pct(self) -> float:
        return 100.0 * (self.rows - self.non_null) / self.rows if self.rows else 0.0


def column_stats_sql(sl: Slice, column: str) -> tuple[str, list[Any]]:
    sql, params = sl.select([column])
    c = quote_ident(column)
    return (
        f"SELECT count(*) AS rows, count({c}) AS non_null, count(DISTINCT {c}) AS distinct_values, "
        f"min({c}) AS minimum, max({c}) AS maximum FROM ({sql})",
        params,
    )


def column_stats(con: duckdb.DuckDBPyConnection, sl: Slice, column: str, typ: str) -> ColumnStats:
    """Rows, non-null values, exact distinct count, minimum and maximum of one column."""
    row = con.execute(*column_stats_sql(sl, column)).fetchone()
    rows, non_null, distinct, low, high = row if row else (0, 0, 0, None, None)
    return ColumnStats(column, typ, int(rows), int(non_null), int(distinct), low, high)


def tidy_profile(stats: pd.DataFrame) -> pd.DataFrame:
    """SUMMARIZE's text figures made readable: numbers rounded, units named (pure)."""
    out = stats.copy()
    for name in ("min", "max", "mean", "std", "p25", "median", "p75"):
        if name in out:
            out[name] = out[name].map(readable)
    # A mean or an estimated quartile of times is no time a row has: seconds are precision enough.
    estimated = ~out["quantiles_exact"].astype(bool) if "quantiles_exact" in out else None
    for name in ("mean", *QUARTILES):
        if name in out:
            rough = out[name] if name == "mean" or estimated is None else out[name][estimated]
            out.loc[rough.index, name] = rough.map(_to_second)
    if estimated is not None:
        for name in QUARTILES:
            if name in out:
                out.loc[estimated, name] = out.loc[estimated, name].map(
                    lambda v: v if v is None else f"{ESTIMATE}{v}"
                )
        out = out.drop(columns=["quantiles_exact"])
    if "distinct_exact" in out:
        out["distinct"] = [
            f"{int(n):,}" if exact else f"{ESTIMATE}{int(n):,}"
            for n, exact in zip(out["distinct"], out["distinct_exact"], strict=True)
        ]
        out = out.drop(columns=["distinct_exact"])
    return out


_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})\.\d+")


def _to_second(value: Any) -> Any:
    return _FRACTION.sub(r"\1", value) if isinstance(value, str) else value


def readable(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.4f}".rstrip("0").rstrip(".")
