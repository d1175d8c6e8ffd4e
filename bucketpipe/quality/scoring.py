"""Scoring what a run delivered: the four dimensions, the overall score, column profiles and
recommendations, computed in DuckDB into a `QualityReport` (definitions in docs/quality.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from bucketpipe.quality.profiling import ColumnCounts, distinct_keys, profile_columns
from bucketpipe.quality.recommendations import notes, recommend
from bucketpipe.quality.report import (
    DEFINITIONS,
    ColumnProfile,
    Dimension,
    QualityReport,
    TopValue,
)
from bucketpipe.quality.wording import score_value


@dataclass(frozen=True)
class Counts:
    """The numbers the four dimensions are computed from."""

    rows: int
    columns: int
    non_null_cells: int
    distinct_keys: int
    rows_quarantined: int
    rows_invalid_kept: int
    checked_cells: int
    inconsistent_cells: int
    # The cells where a value is due (None: every cell, rows x columns); `non_null_cells` then
    # counts the filled ones among them.
    cells: int | None = None


def _pct(numerator: int, denominator: int) -> float:
    """A share in %, two decimals, below 100 whenever the numerator is (99.99 for 99.996)."""
    return score_value(100.0 * numerator / denominator) if denominator else 100.0


def score(counts: Counts, thresholds: Sequence[float]) -> dict[str, Dimension]:
    """The four dimensions from the counts (pure; docs/quality.md has the formulas)."""
    cells = counts.rows * counts.columns if counts.cells is None else counts.cells
    delivered = counts.rows + counts.rows_quarantined
    parts = {
        "completeness": (counts.non_null_cells, cells),
        "uniqueness": (counts.distinct_keys, counts.rows),
        "consistency": (counts.checked_cells - counts.inconsistent_cells, counts.checked_cells),
        "validity": (counts.rows - counts.rows_invalid_kept, delivered),
    }
    out = {}
    for (name, (num, den)), mark in zip(parts.items(), thresholds, strict=True):
        value = _pct(num, den)
        out[name] = Dimension(
            score=value,
            threshold=float(mark),
            passed=value >= mark,
            definition=DEFINITIONS[name],
            numerator=num,
            denominator=den,
        )
    return out


def overall(dimensions: Mapping[str, Dimension]) -> float:
    """The mean of the four dimension scores."""
    return score_value(sum(d.score for d in dimensions.values()) / len(dimensions))


def column_profile(counts: ColumnCounts) -> ColumnProfile:
    issues = {
        "empty_strings": counts.empty_strings,
        "spacing": counts.spacing,
        "case_variants": counts.case_variants,
        "extremes": counts.extremes,
        "future": counts.future,
        "before_1900": counts.before_1900,
    }
    return ColumnProfile(
        name=counts.name,
        type=counts.type,
        nulls=counts.rows - counts.non_null,
        null_pct=_pct(counts.rows - counts.non_null, counts.rows) if counts.rows else 0.0,
        distinct=counts.distinct,
        distinct_exact=counts.distinct_exact,
        min=None if counts.min is None else str(counts.min),
        max=None if counts.max is None else str(counts.max),
        mean=None if counts.mean is None else round(counts.mean, 6),
        top_values=[TopValue(value=v, count=n) for v, n in counts.top_values],
        issues={k: v for k, v in issues.items() if v},
        due=counts.due,
        due_filled=counts.due_filled,
    )


@dataclass(frozen=True)
class Delivery:
    """What a run delivered to a dataset besides the assessed rows."""

    dataset: str
    run_id: str
    now: datetime
    key: tuple[str, ...]
    rows_in: int = 0
    rows_quarantined: int = 0
    rows_invalid_kept: int = 0
    rows_duplicate: int = 0
    rows_written: int = 0
    rows_rejected_repeated: int = 0
    kind: str = "catalog"
    quarantine_reasons: Mapping[str, int] | None = None
    drift: Mapping[str, Any] | None = None
    steps: Sequence[str] = ()
    future_ok: bool = False
    entities: tuple[str, ...] = ()  # a time series' entity columns (see `entity_columns`)
    due: Mapping[str, str] | None = None  # where a column's value is due (`Column.due`)
    extra_examples: Mapping[str, list[str]] | None = None


@dataclass(frozen=True)
class Measured:
    """What the database says about the assessed rows: the row count, each column's counts
    and the number of distinct keys."""

    rows: int
    per_column: list[ColumnCounts]
    distinct_keys: int


def measure(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[tuple[str, str]],
    key: Sequence[str],
    *,
    now: datetime,
    future_ok: bool = False,
    known_distinct_keys: int | None = None,
    entities: Sequence[str] = (),
    due: Mapping[str, str] | None = None,
) -> Measured:
    """Profile `relation`; `known_distinct_keys` (the merge already counted them) saves a pass."""
    rows, per_column = profile_columns(
        con, relation, columns, now=now, future_ok=future_ok, entities=entities, due=due
    )
    if known_distinct_keys is not None:
        keys = known_distinct_keys
    else:
        keys = distinct_keys(con, relation, key) if key else rows
    return Measured(rows, per_column, keys)


def assess(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[tuple[str, str]],
    delivery: Delivery,
    thresholds: Sequence[float],
    measured: Measured | None = None,
    known_distinct_keys: int | None = None,
) -> QualityReport:
    """The report for `relation` (the run's accepted rows) and its content `columns`.

    With `measured` (taken earlier, while the rows were at hand) the relation is not read;
    `known_distinct_keys` (the merge counted them) saves the profile a pass.
    """
    if measured is None:
        measured = measure(
            con,
            relation,
            columns,
            delivery.key,
            now=delivery.now,
            future_ok=delivery.future_ok,
            entities=delivery.entities,
            known_distinct_keys=known_distinct_keys,
            due=delivery.due,
        )
    rows, per_column = measured.rows, measured.per_column
    key = list(delivery.key)
    counts = Counts(
        rows=rows,
        columns=len(columns),
        non_null_cells=sum(c.filled_cells for c in per_column),
        distinct_keys=measured.distinct_keys,
        rows_quarantined=delivery.rows_quarantined,
        rows_invalid_kept=delivery.rows_invalid_kept,
        checked_cells=sum(c.checked for c in per_column),
        inconsistent_cells=sum(c.inconsistent for c in per_column),
        cells=sum(c.due_cells for c in per_column),
    )
    dimensions = score(counts, thresholds)
    report = QualityReport(
        dataset=delivery.dataset,
        run_id=delivery.run_id,
        created_at=delivery.now,
        kind=delivery.kind,
        basis="committed",
        rows=rows,
        rows_in=delivery.rows_in,
        rows_quarantined=delivery.rows_quarantined,
        rows_invalid_kept=delivery.rows_invalid_kept,
        rows_duplicate=delivery.rows_duplicate,
        rows_written=delivery.rows_written,
        rows_rejected_repeated=delivery.rows_rejected_repeated,
        columns=len(columns),
        key=[k for k in key if not k.startswith("_")],
        dimensions=dimensions,
        overall_score=overall(dimensions),
        passed=all(d.passed for d in dimensions.values()),
        column_profiles=[column_profile(c) for c in per_column],
        quarantine_reasons=dict(delivery.quarantine_reasons or {}),
        drift=dict(delivery.drift or {}),
        steps=list(delivery.steps),
    )
    report.recommendations = recommend(report, per_column)
    report.notes = notes(report)
    return report
