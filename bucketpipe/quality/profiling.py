"""Column profiles and the cell counts behind the quality dimensions, computed in DuckDB."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from bucketpipe.lake.duck import count_where, quote_ident, quote_literal, utc_date
from bucketpipe.quality.due import count_due

# Up to this many rows, distinct counts and quartiles are exact; above, estimates.
EXACT_DISTINCT_ROWS = 1_000_000
# Above it, the far-out fences' quartiles are those of a uniform sample of this many rows
# (reservoir sampling: every row equally likely; a quartile's error is a fraction of a percentile).
QUARTILE_SAMPLE_ROWS = 100_000
# An entity (a symbol of a time series) is judged by its own far-out fences when it has this
# many finite values in the quartiles' basis; one with fewer, by the fences of all rows.
ENTITY_MIN_VALUES = 20
TOP_VALUES = 5
FAR_OUT_K = 3.0
_ID = re.compile(
    r"(^|_)(id|ids|uuid|guid|key|code|no|nr|num|number|zip|postcode|phone|year|yr|ts|time|"
    r"timestamp|date|period)($|_)"
)


def entity_columns(key: Sequence[str], time_column: str | None) -> tuple[str, ...]:
    """The columns naming a time series' entity: the key without its time column (a quote's
    symbol of (symbol, ts)); none when the time column is not part of the key."""
    if not time_column or time_column not in key:
        return ()
    return tuple(k for k in key if k != time_column and not k.startswith("_"))


def category(type_name: str) -> str:
    """numeric, temporal, text, boolean or other (lists, structs, JSON, blobs)."""
    t = type_name.upper()
    if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return "numeric"
    if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
        return "numeric"
    if t.startswith(("DATE", "TIMESTAMP")):
        return "temporal"
    if t == "VARCHAR":
        return "text"
    if t == "BOOLEAN":
        return "boolean"
    return "other"


@dataclass
class ColumnCounts:
    """One column over the assessed rows."""

    name: str
    type: str
    rows: int
    non_null: int = 0
    distinct: int = 0
    distinct_exact: bool = True
    min: Any = None
    max: Any = None
    mean: float | None = None
    empty_strings: int = 0
    spacing: int = 0
    case_variants: int = 0
    case_example: list[str] = field(default_factory=list)
    extremes: int = 0
    extreme_limits: tuple[float, float] | None = None
    extremes_by: tuple[str, ...] = ()  # columns of the entities with fences of their own
    future: int = 0
    before_1900: int = 0
    top_values: list[tuple[str, int]] = field(default_factory=list)
    # With a condition of where a value is due (`catalog.spec.Column.due`): the rows where one
    # is, and those of them that have one. None: a value is due in every row.
    due: int | None = None
    due_filled: int | None = None

    @property
    def kind(self) -> str:
        return category(self.type)

    @property
    def due_cells(self) -> int:
        """The cells where a value is due: completeness' denominator."""
        return self.rows if self.due is None else self.due

    @property
    def filled_cells(self) -> int:
        """The cells where a value is due and present: completeness' numerator."""
        return self.non_null if self.due_filled is None else self.due_filled

    @property
    def checked(self) -> int:
        """Cells the consistency checks look at."""
        if self.kind in ("text", "temporal"):
            return self.non_null
        if self.kind == "numeric" and not _ID.search(self.name):
            return self.non_null
        return 0

    @property
    def inconsistent(self) -> int:
        if self.kind == "text":
            return min(self.non_null, self.empty_strings + self.spacing + self.case_variants)
        if self.kind == "temporal":
            return self.future + self.before_1900
        if self.kind == "numeric" and not _ID.search(self.name):
            return self.extremes
        return 0


def _base_fields(
    name: str, type_name: str, exact: bool, now: datetime, future_ok: bool
) -> list[str]:
    c = quote_ident(name)
    kind = category(type_name)
    distinct = f"count(DISTINCT {c})" if exact else f"approx_count_distinct({c})"
    if kind == "other":
        distinct = "0"
    fields = [f"count({c})", distinct]
    if kind in ("numeric", "temporal"):
        fields += [f"CAST(min({c}) AS VARCHAR)", f"CAST(max({c}) AS VARCHAR)"]
    else:
        fields += ["NULL", "NULL"]
    fields.append(f"avg(CAST({c} AS DOUBLE))" if kind == "numeric" else "NULL")
    if kind == "text":
        fields += [
            count_where(f"{c} = ''"),
            count_where(f"{c} <> '' AND ({c} <> trim({c}) OR {c} LIKE '%  %')"),
        ]
    else:
        fields += ["0", "0"]
    if kind == "temporal":
        horizon = quote_literal(now.isoformat())
        future = (
            "0"
            if future_ok
            else count_where(
                f"CAST({c} AS TIMESTAMPTZ) > CAST({horizon} AS TIMESTAMPTZ) + INTERVAL 1 DAY"
            )
        )
        fields += [future, count_where(f"{utc_date(c)} < DATE '1900-01-01'")]
    else:
        fields += ["0", "0"]
    return fields


def profile_columns(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[tuple[str, str]],
    *,
    now: datetime,
    future_ok: bool = False,
    entities: Sequence[str] = (),
    due: Mapping[str, str] | None = None,
) -> tuple[int, list[ColumnCounts]]:
    """(rows, counts per column) of a table or `(SELECT ...)` relation.

    `due`: column -> SQL over the rows of where a value is due (`{now}` stands for `now`);
    each such column also counts those rows and how many of them have a value.

    `entities`: the columns naming the entity of each row of a time series (a quote's symbol).
    A value is then far out only when it also lies beyond its own entity's fences: the daily
    change of a $5 and of a $500 share are not one distribution.
    """
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    rows = int(row[0]) if row else 0
    exact = rows <= EXACT_DISTINCT_ROWS
    out = [ColumnCounts(name, typ, rows, distinct_exact=exact) for name, typ in columns]
    if not columns or rows == 0:
        return rows, out
    fields: list[str] = []
    for name, typ in columns:
        fields += _base_fields(name, typ, exact, now, future_ok)
    width = len(fields) // len(columns)
    # The quartiles of the far-out fences: exact ones in the same pass; above
    # EXACT_DISTINCT_ROWS, those of a uniform sample (a t-digest of every value cost 0.2 s a
    # column at ten million rows, the sample 0.05 s).
    fenced = [c for c in out if c.kind == "numeric" and not _ID.search(c.name)]
    quartile_fields = []
    for counts in fenced:
        value = f"CAST({quote_ident(counts.name)} AS DOUBLE)"
        quartile_fields.append(
            f"quantile_cont({value}, [0.25, 0.75]) FILTER (WHERE isfinite({value}))"
        )
    if exact:
        fields += quartile_fields
    values = con.execute(f"SELECT {', '.join(fields)} FROM {relation}").fetchone()
    assert values is not None
    counted = count_due(con, relation, [c.name for c in out], due or {}, now)
    for counts in out:
        counts.due, counts.due_filled = counted.get(counts.name, (None, None))
    sampled = values[width * len(out) :]
    if not exact and quartile_fields:
        sampled = (
            con.execute(
                f"SELECT {', '.join(quartile_fields)} FROM {relation} "
                f"USING SAMPLE {QUARTILE_SAMPLE_ROWS} ROWS"
            ).fetchone()
            or ()
        )
    quartiles = dict(zip((c.name for c in fenced), sampled, strict=True))
    for i, counts in enumerate(out):
        part = values[i * width : (i + 1) * width]
        # An estimate can exceed the values it counts; there are never more distinct ones.
        counts.non_null, counts.distinct = int(part[0]), min(int(part[1]), int(part[0]))
        counts.min, counts.max = part[2], part[3]
        counts.mean = float(part[4]) if part[4] is not None else None
        counts.empty_strings, counts.spacing = int(part[5]), int(part[6])
        counts.future, counts.before_1900 = int(part[7]), int(part[8])
    per_entity = bool(entities) and rows > ENTITY_MIN_VALUES
    _extremes(con, relation, [c for c in fenced if c.non_null], quartiles, per_entity)
    if per_entity:
        judged = [
            c
            for c in fenced
            if c.non_null and c.extreme_limits and not _within(c, *c.extreme_limits)
        ]
        _entity_extremes(con, relation, judged, tuple(entities), exact)
    for counts in out:
        if counts.non_null == 0:
            continue
        if counts.kind == "text":
            _case_variants(con, relation, counts)
        if counts.kind in ("text", "boolean") or (
            counts.kind == "numeric" and counts.distinct <= 20
        ):
            counts.top_values = top_values(con, relation, counts.name)
    return rows, out


def _case_variants(con: duckdb.DuckDBPyConnection, relation: str, counts: ColumnCounts) -> None:
    """Values whose lower-case form is more often written with another casing."""
    c = quote_ident(counts.name)
    row = con.execute(
        f"WITH v AS (SELECT {c} AS v, count(*) AS n FROM {relation} "
        f"WHERE {c} IS NOT NULL AND {c} <> '' GROUP BY 1), "
        "g AS (SELECT v, n, row_number() OVER (PARTITION BY lower(v) ORDER BY n DESC, v) AS r, "
        "first_value(v) OVER (PARTITION BY lower(v) ORDER BY n DESC, v) AS main FROM v) "
        "SELECT coalesce(sum(n) FILTER (WHERE r > 1), 0), "
        "arg_max([v, main], n) FILTER (WHERE r > 1) FROM g"
    ).fetchone()
    if row:
        counts.case_variants = int(row[0])
        counts.case_example = [str(x) for x in row[1]] if row[1] else []


def _extremes(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[ColumnCounts],
    quartiles: dict[str, Any],
    per_entity: bool = False,
) -> None:
    """Values beyond Tukey's far-out fences (Q1 - 3 IQR, Q3 + 3 IQR), plus NaN and infinity.

    `quartiles`: each column's [Q1, Q3] of its finite values (exact up to
    EXACT_DISTINCT_ROWS rows, else those of a uniform sample of QUARTILE_SAMPLE_ROWS). One pass
    over the rows counts the values outside the fences, for the columns together and only for
    those whose minimum or maximum lies outside. With `per_entity`, only the fences are set
    for the columns that have them: `_entity_extremes` counts those.
    """
    found: dict[int, str] = {}
    for index, counts in enumerate(columns):
        value = f"CAST({quote_ident(counts.name)} AS DOUBLE)"
        quartile = quartiles.get(counts.name)
        if quartile is None or counts.non_null < 4:
            low, high = None, None
        else:
            q1, q3 = float(quartile[0]), float(quartile[1])
            iqr = q3 - q1
            low, high = (q1 - FAR_OUT_K * iqr, q3 + FAR_OUT_K * iqr) if iqr > 0 else (None, None)
        counts.extreme_limits = (low, high) if low is not None and high is not None else None
        if (per_entity and counts.extreme_limits) or _within(counts, low, high):
            continue  # its minimum and maximum show it has none: no pass over its values
        beyond = f"{value} < {low!r} OR {value} > {high!r}"
        outside = count_where(f"isfinite({value}) AND ({beyond})") if low is not None else "0"
        c = quote_ident(counts.name)
        found[index] = f"{outside} + {count_where(f'{c} IS NOT NULL AND NOT isfinite({value})')}"
    if not found:
        return
    totals = con.execute(f"SELECT {', '.join(found.values())} FROM {relation}").fetchone()
    for index, total in zip(found, totals or [0] * len(found), strict=True):
        columns[index].extremes = int(total)


def _entity_extremes(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[ColumnCounts],
    entities: tuple[str, ...],
    exact: bool,
) -> None:
    """Count the far-out values of `columns` (each with pooled fences it does not keep within)
    as the values beyond both the pooled fences and their own entity's: the entity's quartiles
    over all rows, or over a uniform sample above EXACT_DISTINCT_ROWS. An entity with fewer
    than ENTITY_MIN_VALUES values, or none in the sample, is judged by the pooled fences alone.

    Only the rows beyond a pooled fence are joined to the entities' fences (a few, where the
    pooled fences are sound), so the judgement costs little more than the pooled count.
    """
    if not columns:
        return
    keys = ", ".join(quote_ident(e) for e in entities)
    values = [f"CAST({quote_ident(c.name)} AS DOUBLE)" for c in columns]
    parts = [
        f"quantile_cont({v}, [0.25, 0.75]) FILTER (WHERE isfinite({v})) AS _q{i}, "
        f"count({v}) FILTER (WHERE isfinite({v})) AS _n{i}"
        for i, v in enumerate(values)
    ]
    basis = (
        relation
        if exact
        else f"(SELECT * FROM {relation} USING SAMPLE {QUARTILE_SAMPLE_ROWS} ROWS)"
    )
    fences = []
    beyond = []
    totals = []
    for i, counts in enumerate(columns):
        assert counts.extreme_limits is not None
        low, high = counts.extreme_limits
        iqr = f"(_q{i}[2] - _q{i}[1])"
        fences.append(
            f"_n{i} < {ENTITY_MIN_VALUES} AS _few{i}, CASE WHEN {iqr} > 0 "
            f"THEN _q{i}[1] - {FAR_OUT_K} * {iqr} END AS _lo{i}, CASE WHEN {iqr} > 0 "
            f"THEN _q{i}[2] + {FAR_OUT_K} * {iqr} END AS _hi{i}"
        )
        outside = f"isfinite(_v{i}) AND (_v{i} < {low!r} OR _v{i} > {high!r})"
        beyond.append(f"({outside}) OR (_v{i} IS NOT NULL AND NOT isfinite(_v{i}))")
        # The pooled fences alone judge an entity missing from the sample (no fence row) or
        # with too few values; one whose values do not spread (no IQR) has nothing far out.
        own = f"coalesce(_v{i} < _f._lo{i} OR _v{i} > _f._hi{i}, false)"
        totals.append(
            count_where(f"{outside} AND (_f._seen IS NULL OR _f._few{i} OR {own})")
            + " + "
            + count_where(f"_v{i} IS NOT NULL AND NOT isfinite(_v{i})")
        )
    fence_table = (
        f"(SELECT {keys}, true AS _seen, {', '.join(fences)} FROM (SELECT {keys}, "
        f"{', '.join(parts)} FROM {basis} GROUP BY ALL))"
    )
    joined = " AND ".join(
        f"_r.{quote_ident(e)} IS NOT DISTINCT FROM _f.{quote_ident(e)}" for e in entities
    )
    candidates = (
        f"(SELECT {keys}, {', '.join(f'{v} AS _v{i}' for i, v in enumerate(values))} "
        f"FROM {relation}) WHERE {' OR '.join(beyond)}"
    )
    row = con.execute(
        f"SELECT {', '.join(totals)} FROM (SELECT * FROM {candidates}) AS _r "
        f"LEFT JOIN {fence_table} AS _f ON {joined}"
    ).fetchone()
    for counts, total in zip(columns, row or [0] * len(columns), strict=True):
        counts.extremes = int(total)
        counts.extremes_by = entities


def _within(counts: ColumnCounts, low: float | None, high: float | None) -> bool:
    """Are all of a column's values finite and inside the fences (if any), as its minimum and
    maximum show? (DuckDB orders NaN above +infinity, so a finite maximum rules out both.)"""
    try:
        least, most = float(counts.min), float(counts.max)
    except (TypeError, ValueError):
        return False
    if not (math.isfinite(least) and math.isfinite(most)):
        return False
    return low is None or high is None or (low <= least and most <= high)


def top_values(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> list[tuple[str, int]]:
    c = quote_ident(column)
    rows = con.execute(
        f"SELECT CAST({c} AS VARCHAR), count(*) AS n FROM {relation} WHERE {c} IS NOT NULL "
        f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {TOP_VALUES}"
    ).fetchall()
    return [(str(v), int(n)) for v, n in rows]


def distinct_keys(con: duckdb.DuckDBPyConnection, relation: str, key: Sequence[str]) -> int:
    """Distinct values of the key, exactly (rows with an empty key part count as one group).

    A window keeping one row per key spills to disk; `count(DISTINCT ...)` holds its hash
    table in memory (measured: about 150 MB more over 20 million keys).
    """
    if not key:
        return 0
    cols = ", ".join(quote_ident(k) for k in key)
    row = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {relation} "
        f"QUALIFY row_number() OVER (PARTITION BY {cols}) = 1)"
    ).fetchone()
    return int(row[0]) if row else 0
