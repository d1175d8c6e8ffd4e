"""Numeric outliers: IQR fences and the robust (median/MAD) z-score, per column of a batch.

A value is an outlier by IQR when it lies outside [Q1 - k*IQR, Q3 + k*IQR] (Tukey, k = 1.5),
and by robust z-score when 0.6745 * |x - median| / MAD exceeds 3.5 (Iglewicz and Hoaglin);
with MAD = 0 the mean absolute deviation times 1.2533 stands in, and with that 0 too the
z-score test finds nothing. Id-like and year-like columns are never tested.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from bucketpipe.catalog.rules import OutlierRules
from bucketpipe.lake.duck import quote_ident

ID_NAME = re.compile(
    r"(^|_)(id|ids|uuid|guid|key|code|no|nr|num|number|zip|zipcode|postcode|postal|phone|"
    r"ssn|iban|ean|isbn|sku|hash)($|_)"
)
YEAR_NAME = re.compile(r"(^|_)(year|years|yr|vuosi)($|_)")
# Above this many rows, quartiles, medians and deviations are those of a uniform sample of
# SAMPLE_ROWS (bounded memory, one quick pass; t-digests of every value cost 0.2 s a column at
# ten million rows); counts, distinct counts, means and ranges are always of every row.
EXACT_QUANTILE_ROWS = 1_000_000
SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class Fences:
    """One column's statistics and the limits that make a value an outlier."""

    column: str
    count: int
    q1: float
    median: float
    q3: float
    mad: float
    mean_ad: float
    low: float | None
    high: float | None
    z_scale: float | None

    def condition(self, rules: OutlierRules) -> str | None:
        """SQL that is true for an outlier (None when this column has none by definition)."""
        col = quote_ident(self.column)
        iqr = None
        if self.low is not None and self.high is not None:
            iqr = f"({col} < {self.low!r} OR {col} > {self.high!r})"
        zscore = None
        if self.z_scale:
            zscore = f"(abs({col} - {self.median!r}) / {self.z_scale!r} > {rules.z_threshold!r})"
        if rules.method == "none":
            return None
        parts = {"iqr": [iqr], "zscore": [zscore]}.get(rules.method, [iqr, zscore])
        present = [p for p in parts if p]
        if not present or (rules.method == "both" and len(present) < 2):
            return None
        joiner = " OR " if rules.method == "either" else " AND "
        return "(" + joiner.join(present) + ")"


def excluded(column: str, type_name: str, rules: OutlierRules) -> bool:
    """Columns never tested: not numeric, listed in `exclude`, or named like ids or years."""
    if type_name not in ("BIGINT", "DOUBLE") or column in rules.exclude:
        return True
    return bool(ID_NAME.search(column) or YEAR_NAME.search(column))


def year_like(low: float, high: float) -> bool:
    """Integers that all fall between 1800 and 2100 read as years."""
    return low >= 1800 and high <= 2100


def id_like(count: int, distinct: int, low: float, high: float, *, exact: bool = True) -> bool:
    """Integers that are (almost) all different and packed in a range about as wide as their
    number, like 1..n, read as ids; distinct amounts spread over a wide range do not.

    An estimated distinct count (HyperLogLog) runs up to about 6 % low: 1..1,500,000 counts
    as 1,421,000 distinct values, so an estimate needs only 90 %."""
    share = 0.98 if exact else 0.9
    return distinct >= share * count and (high - low) <= 2 * count


def fences_sql(table: str, columns: Sequence[str], where: str = "true") -> str:
    """Per column: quartiles, count, distinct count, mean, min, max; then MAD and MeanAD
    (exact: `compute_fences` runs it over a sample of a large table)."""
    centre = ", ".join(
        f"quantile_cont({quote_ident(c)}, [0.25, 0.5, 0.75]) AS {quote_ident('q_' + c)}, "
        f"[count({quote_ident(c)}), count(DISTINCT {quote_ident(c)})] "
        f"AS {quote_ident('n_' + c)}, "
        f"[avg({quote_ident(c)}), min({quote_ident(c)}), max({quote_ident(c)})] "
        f"AS {quote_ident('m_' + c)}"
        for c in columns
    )
    spread = ", ".join(
        f"[median(abs({quote_ident(c)} - s.{quote_ident('q_' + c)}[2])), "
        f"avg(abs({quote_ident(c)} - s.{quote_ident('m_' + c)}[1]))]"
        for c in columns
    )
    stats = ", ".join(
        f"s.{quote_ident('q_' + c)}, s.{quote_ident('n_' + c)}, s.{quote_ident('m_' + c)}"
        for c in columns
    )
    return (
        f"WITH s AS (SELECT {centre} FROM {table} WHERE {where}) "
        f"SELECT {stats}, {spread} FROM {table}, s WHERE {where} GROUP BY ALL"
    )


def totals_sql(
    table: str, columns: Sequence[str], where: str = "true", distinct: Collection[str] = ()
) -> str:
    """Per column, over every row: [count, distinct estimate], [mean, min, max]; the estimate
    only for the `distinct` columns (NULL for the others)."""

    def estimate(c: str) -> str:
        return f"approx_count_distinct({quote_ident(c)})" if c in distinct else "NULL"

    fields = ", ".join(
        f"[count({quote_ident(c)}), {estimate(c)}], "
        f"[avg({quote_ident(c)}), min({quote_ident(c)}), max({quote_ident(c)})]"
        for c in columns
    )
    return f"SELECT {fields} FROM {table} WHERE {where}"


def _with_totals(row: tuple[Any, ...], totals: tuple[Any, ...], k: int) -> tuple[Any, ...]:
    """A sample's `fences_sql` row with each column's counts, mean and range of every row."""
    out = list(row)
    for i in range(k):
        out[3 * i + 1], out[3 * i + 2] = totals[2 * i], totals[2 * i + 1]
    return tuple(out)


def compute_fences(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    rules: OutlierRules,
    where: str = "true",
) -> list[Fences]:
    """Fences of every tested column (name -> type) that has at least `min_rows` values.

    Integer columns whose values look like years or like a sequence of ids are skipped.
    """
    names = [c for c, t in columns.items() if not excluded(c, t, rules)]
    if not names or rules.method == "none":
        return []
    rows = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    exact = rows is not None and rows[0] <= EXACT_QUANTILE_ROWS
    if exact:
        row = con.execute(fences_sql(table, names, where)).fetchone()
    else:
        # The sample is drawn once: `fences_sql` reads its relation twice (the centre, then
        # the deviations from it), and a subquery would draw two samples of every row.
        picked = ", ".join(quote_ident(c) for c in names)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _fence_sample AS SELECT * FROM "
            f"(SELECT {picked} FROM {table} WHERE {where}) USING SAMPLE {SAMPLE_ROWS} ROWS"
        )
        try:
            row = con.execute(fences_sql("_fence_sample", names)).fetchone()
        finally:
            con.execute("DROP TABLE IF EXISTS _fence_sample")
        # Only an integer column's distinct count is asked (is it a sequence of ids?): an
        # estimate over every row costs 0.05-0.1 s a column at 5 M rows.
        integers = [c for c in names if columns[c] == "BIGINT"]
        every = con.execute(totals_sql(table, names, where, integers)).fetchone()
        if row is not None and every is not None:
            row = _with_totals(row, every, len(names))
    if row is None:
        return []
    k = len(names)
    out = []
    for i, column in enumerate(names):
        quartiles, (count, distinct), (_mean, low, high) = row[3 * i : 3 * i + 3]
        mad, mean_ad = row[3 * k + i]
        if count < rules.min_rows or quartiles is None:
            continue
        if columns[column] == "BIGINT" and (
            year_like(low, high) or id_like(count, distinct, low, high, exact=exact)
        ):
            continue
        q1, median, q3 = (float(q) for q in quartiles)
        out.append(
            make_fences(
                column, int(count), q1, median, q3, float(mad or 0), float(mean_ad or 0), rules
            )
        )
    return out


def make_fences(
    column: str,
    count: int,
    q1: float,
    median: float,
    q3: float,
    mad: float,
    mean_ad: float,
    rules: OutlierRules,
) -> Fences:
    """Limits from the statistics (pure)."""
    iqr = q3 - q1
    low, high = (q1 - rules.iqr_k * iqr, q3 + rules.iqr_k * iqr) if iqr > 0 else (None, None)
    # Modified z = 0.6745 * |x - median| / MAD = |x - median| / (MAD / 0.6745); with MAD = 0
    # the MeanAD form is |x - median| / (1.253314 * MeanAD).
    if mad > 0:
        scale: float | None = mad / 0.6745
    elif mean_ad > 0:
        scale = 1.253314 * mean_ad
    else:
        scale = None
    return Fences(column, count, q1, median, q3, mad, mean_ad, low, high, scale)
