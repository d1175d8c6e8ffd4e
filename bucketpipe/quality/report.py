"""Data quality: four dimensions, an overall score, column profiles and recommendations.

Every clean run writes one report per dataset it touched to
`reports/quality/<dataset>/<run_id>.json`, computed in DuckDB over the rows the run delivered
to the dataset (accepted rows before deduplication, plus the counts of quarantined rows), and
keeps `reports/quality_metrics.json` (the latest report of every dataset) and
`reports/summary_report.json` (the last run's processing summary and the latest scores). The
definitions, with formulas, are in docs/quality.md.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import (
    QUALITY_METRICS_KEY,
    REPORTS,
    SUMMARY_REPORT_KEY,
    quality_report_key,
)
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.quality.profiling import ColumnCounts, distinct_keys, profile_columns
from bucketpipe.quality.recommendations import recommend

log = logging.getLogger(__name__)

DIMENSIONS = ("completeness", "uniqueness", "consistency", "validity")
DEFINITIONS = {
    "completeness": "share of non-empty cells over rows x content columns",
    "uniqueness": "share of rows that are distinct by the dataset's key (exact row for "
    "datasets without a key)",
    "consistency": "share of checked cells without a casing, spacing, empty-string, "
    "far-out numeric or out-of-range date problem",
    "validity": "share of delivered rows that passed every type and rule check unchanged",
}


class Dimension(BaseModel):
    """One quality dimension: score in %, its pass mark and the counts it came from."""

    model_config = ConfigDict(frozen=True)

    score: float
    threshold: float
    passed: bool
    definition: str
    numerator: int
    denominator: int


class TopValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str
    count: int


class ColumnProfile(BaseModel):
    """What one column looks like in the assessed rows."""

    name: str
    type: str
    nulls: int
    null_pct: float
    distinct: int
    distinct_exact: bool = True
    min: str | None = None
    max: str | None = None
    mean: float | None = None
    top_values: list[TopValue] = Field(default_factory=list)
    issues: dict[str, int] = Field(default_factory=dict)


class QualityReport(BaseModel):
    """The quality of what one clean run delivered to one dataset."""

    model_config = ConfigDict(extra="allow")

    dataset: str
    run_id: str
    created_at: datetime
    kind: str = "catalog"
    scope: str = "run"
    rows: int = Field(description="Accepted rows assessed (before deduplication).")
    rows_in: int = 0
    rows_quarantined: int = 0
    rows_invalid_kept: int = 0
    rows_duplicate: int = 0
    rows_written: int = 0
    columns: int = 0
    key: list[str] = Field(default_factory=list)
    dimensions: dict[str, Dimension]
    overall_score: float
    passed: bool
    column_profiles: list[ColumnProfile] = Field(default_factory=list)
    quarantine_reasons: dict[str, int] = Field(default_factory=dict)
    drift: dict[str, Any] = Field(default_factory=dict)
    steps: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)

    @property
    def key_name(self) -> str:
        return quality_report_key(self.dataset, self.run_id)


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


def _pct(numerator: int, denominator: int) -> float:
    return round(100.0 * numerator / denominator, 2) if denominator else 100.0


def score(counts: Counts, thresholds: Sequence[float]) -> dict[str, Dimension]:
    """The four dimensions from the counts (pure; docs/quality.md has the formulas)."""
    cells = counts.rows * counts.columns
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
    return round(sum(d.score for d in dimensions.values()) / len(dimensions), 2)


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
    kind: str = "catalog"
    quarantine_reasons: Mapping[str, int] | None = None
    drift: Mapping[str, Any] | None = None
    steps: Sequence[str] = ()
    future_ok: bool = False
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
) -> Measured:
    """Profile `relation`; `known_distinct_keys` (the merge already counted them) saves a pass."""
    rows, per_column = profile_columns(con, relation, columns, now=now, future_ok=future_ok)
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
) -> QualityReport:
    """The report for `relation` (the run's accepted rows) and its content `columns`.

    With `measured` (taken earlier, while the rows were at hand) the relation is not read.
    """
    if measured is None:
        measured = measure(
            con, relation, columns, delivery.key, now=delivery.now, future_ok=delivery.future_ok
        )
    rows, per_column = measured.rows, measured.per_column
    key = list(delivery.key)
    counts = Counts(
        rows=rows,
        columns=len(columns),
        non_null_cells=sum(c.non_null for c in per_column),
        distinct_keys=measured.distinct_keys,
        rows_quarantined=delivery.rows_quarantined,
        rows_invalid_kept=delivery.rows_invalid_kept,
        checked_cells=sum(c.checked for c in per_column),
        inconsistent_cells=sum(c.inconsistent for c in per_column),
    )
    dimensions = score(counts, thresholds)
    report = QualityReport(
        dataset=delivery.dataset,
        run_id=delivery.run_id,
        created_at=delivery.now,
        kind=delivery.kind,
        rows=rows,
        rows_in=delivery.rows_in,
        rows_quarantined=delivery.rows_quarantined,
        rows_invalid_kept=delivery.rows_invalid_kept,
        rows_duplicate=delivery.rows_duplicate,
        rows_written=delivery.rows_written,
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
    return report


# --- storage --------------------------------------------------------------------------------
def write_report(store: ObjectStore, report: QualityReport) -> str:
    key = quality_report_key(report.dataset, report.run_id)
    store.put(key, report.model_dump_json(indent=1).encode(), "application/json")
    return key


def _load(store: ObjectStore, key: str) -> dict[str, Any]:
    try:
        data = json.loads(store.get(key))
    except (ObjectNotFound, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_latest(
    store: ObjectStore,
    reports: Sequence[QualityReport],
    *,
    run_id: str,
    now: datetime,
    run_summary: Mapping[str, Any],
) -> None:
    """Fold a run's reports into `quality_metrics.json` and `summary_report.json`."""
    metrics = _load(store, QUALITY_METRICS_KEY)
    datasets = dict(metrics.get("datasets") or {})
    for report in reports:
        datasets[report.dataset] = report.model_dump(mode="json")
    body = {"updated_at": now.isoformat(), "run_id": run_id, "datasets": datasets}
    store.put(QUALITY_METRICS_KEY, json.dumps(body, indent=1).encode(), "application/json")
    scores = {
        name: {
            "overall_score": data.get("overall_score"),
            "passed": data.get("passed"),
            "run_id": data.get("run_id"),
            "created_at": data.get("created_at"),
            "rows": data.get("rows"),
            "dimensions": {
                dim: (data.get("dimensions") or {}).get(dim, {}).get("score") for dim in DIMENSIONS
            },
            "report": quality_report_key(name, str(data.get("run_id"))),
        }
        for name, data in sorted(datasets.items())
    }
    values = [float(s["overall_score"]) for s in scores.values() if s["overall_score"] is not None]
    summary = {
        "updated_at": now.isoformat(),
        "average_score": round(sum(values) / len(values), 2) if values else None,
        "datasets_passing": sum(1 for s in scores.values() if s["passed"]),
        "datasets": scores,
        "last_run": dict(run_summary),
    }
    store.put(
        SUMMARY_REPORT_KEY, json.dumps(summary, indent=1, default=str).encode(), "application/json"
    )


def read_latest(store: ObjectStore) -> dict[str, QualityReport]:
    """Dataset -> its latest report (from `quality_metrics.json`); {} before the first run."""
    data = _load(store, QUALITY_METRICS_KEY).get("datasets") or {}
    out = {}
    for name, body in data.items():
        try:
            out[name] = QualityReport.model_validate(body)
        except ValueError:
            log.warning("unreadable quality report skipped", extra={"dataset": name})
    return out


def read_summary(store: ObjectStore) -> dict[str, Any]:
    """`summary_report.json` as a dict ({} before the first run)."""
    return _load(store, SUMMARY_REPORT_KEY)


REPORT_ARCHIVES = f"{REPORTS}/quality/_archive/"
DAILY_KEY = f"{REPORTS}/quality/_daily.jsonl.gz"


def report_archive_key(day: date) -> str:
    """One archive per day holding every dataset's reports of that day (compaction)."""
    return f"{REPORT_ARCHIVES}{day.isoformat()}.jsonl.gz"


def read_reports(store: ObjectStore, dataset: str, limit: int = 50) -> list[QualityReport]:
    """The dataset's reports, newest first: whole ones, then those compaction archived."""
    prefix = f"{REPORTS}/quality/{dataset}/"
    whole = [i for i in store.list_objects(prefix) if i.key.endswith(".json")]
    whole.sort(key=lambda i: i.last_modified, reverse=True)
    out: list[QualityReport] = []
    for info in whole[:limit]:
        try:
            out.append(QualityReport.model_validate_json(store.get(info.key)))
        except (ObjectNotFound, ValueError):
            continue
    if len(out) < limit:
        for key in sorted((i.key for i in store.list_objects(REPORT_ARCHIVES)), reverse=True):
            try:
                lines = gzip.decompress(store.get(key)).splitlines()
            except (ObjectNotFound, OSError):
                continue
            for line in lines:
                if line.strip() and json.loads(line).get("dataset") == dataset:
                    out.append(QualityReport.model_validate_json(line))
            if len(out) >= limit:
                break
    out.sort(key=lambda r: r.created_at, reverse=True)
    return out[:limit]


def read_daily(store: ObjectStore, dataset: str | None = None) -> list[dict[str, Any]]:
    """Per-day summaries of reports retention has expired, oldest first (one dataset or all)."""
    try:
        lines = gzip.decompress(store.get(DAILY_KEY)).splitlines()
    except ObjectNotFound:
        return []
    rows = [json.loads(line) for line in lines if line.strip()]
    return [r for r in rows if dataset is None or r.get("dataset") == dataset]
