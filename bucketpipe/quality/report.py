"""Quality reports as documents: the model, and reading and writing them in the lake.

The write side computes them (`scoring`); the read side only reads them. Every clean run
writes one report per dataset it touched to
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
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import (
    QUALITY_DAILY_KEY,
    QUALITY_METRICS_KEY,
    QUALITY_REPORT_ARCHIVES,
    SUMMARY_REPORT_KEY,
    quality_report_key,
    quality_reports_prefix,
)
from bucketpipe.lake.layout import (
    REPORTS_DATASET as REPORTS_DATASET,  # the dataset every report is a row of
)
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

DIMENSIONS = ("completeness", "uniqueness", "consistency", "validity")

# Every report is also a row of REPORTS_DATASET (committed through snapshots like any other,
# one file per month rewritten by the run that adds to it), so the trend is one or two reads.
# Its snapshots' details record dataset -> month -> reports, so a reader picks the month files
# that hold a dataset's newest reports without opening the others.
REPORT_COUNTS = "reports_per_month"
REPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("dataset", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("created_at", "TIMESTAMPTZ"),
    ("kind", "VARCHAR"),
    ("basis", "VARCHAR"),
    ("rows", "BIGINT"),
    ("rows_in", "BIGINT"),
    ("rows_quarantined", "BIGINT"),
    ("rows_duplicate", "BIGINT"),
    ("rows_written", "BIGINT"),
    *((name, "DOUBLE") for name in DIMENSIONS),
    ("overall_score", "DOUBLE"),
    ("passed", "BOOLEAN"),
    ("details", "VARCHAR"),
)
DEFINITIONS = {
    "completeness": "share of non-empty cells over the cells where a value is due (rows x "
    "content columns, less the cells a column leaves empty by definition)",
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
    # The rows where a value is due (`catalog.spec.Column.due`) and those of them that have
    # one; None: a value is due in every row.
    due: int | None = None
    due_filled: int | None = None


class QualityReport(BaseModel):
    """The quality of what one clean run delivered to one dataset."""

    model_config = ConfigDict(extra="allow")

    dataset: str
    run_id: str
    created_at: datetime
    kind: str = "catalog"
    scope: str = "run"
    # What was scored: "committed" (the rows this run delivered, one per key, as readers get
    # them; every report since duplicates stopped counting against uniqueness) or "input"
    # (older reports, which scored the run's accepted rows with their repeats). Either way
    # the run's delivery, not the whole dataset (whose row count is its snapshot's).
    basis: str = "input"
    rows: int = Field(
        description="Rows assessed: the run's accepted rows, one per key (with basis "
        "'committed'), not the dataset's total."
    )
    # The run's input, `rows_in`, adds up as rows_written + rows_duplicate + rows_quarantined
    # + rows_rejected_repeated (catalog datasets).
    rows_in: int = 0
    rows_quarantined: int = 0
    rows_invalid_kept: int = 0
    rows_duplicate: int = 0
    rows_written: int = 0
    # Rejected rows delivered more than once in the input: each distinct rejected row is
    # counted once in `rows_quarantined`, its repeats here.
    rows_rejected_repeated: int = 0
    columns: int = 0
    key: list[str] = Field(default_factory=list)
    dimensions: dict[str, Dimension]
    overall_score: float
    passed: bool
    column_profiles: list[ColumnProfile] = Field(default_factory=list)
    quarantine_reasons: dict[str, int] = Field(default_factory=dict)
    drift: dict[str, Any] = Field(default_factory=dict)
    steps: list[str] = Field(default_factory=list)
    # Things to act on, most important first (empty when nothing stands out).
    recommendations: list[str] = Field(default_factory=list)
    # Information that asks for no action (e.g. duplicates removed).
    notes: list[str] = Field(default_factory=list)

    @property
    def key_name(self) -> str:
        return quality_report_key(self.dataset, self.run_id)


def report_row(report: QualityReport) -> tuple[Any, ...]:
    """The report as a row of `REPORTS_DATASET` (in `REPORT_COLUMNS` order)."""
    dims = report.dimensions
    return (
        report.dataset,
        report.run_id,
        report.created_at,
        report.kind,
        report.basis,
        report.rows,
        report.rows_in,
        report.rows_quarantined,
        report.rows_duplicate,
        report.rows_written,
        *(dims[name].score if name in dims else None for name in DIMENSIONS),
        report.overall_score,
        report.passed,
        report.model_dump_json(),
    )


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


def read_reports(store: ObjectStore, dataset: str, limit: int = 50) -> list[QualityReport]:
    """The dataset's reports, newest first: whole ones, then those compaction archived."""
    whole = [
        i for i in store.list_objects(quality_reports_prefix(dataset)) if i.key.endswith(".json")
    ]
    whole.sort(key=lambda i: i.last_modified, reverse=True)
    out: list[QualityReport] = []
    for info in whole[:limit]:
        try:
            out.append(QualityReport.model_validate_json(store.get(info.key)))
        except (ObjectNotFound, ValueError):
            continue
    if len(out) < limit:
        for key in sorted(
            (i.key for i in store.list_objects(QUALITY_REPORT_ARCHIVES)), reverse=True
        ):
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


def read_all_reports(store: ObjectStore) -> list[QualityReport]:
    """Every report kept as JSON, whole or archived, of every dataset (once, to fill the
    `quality_reports` dataset of a lake that had none)."""
    out: list[QualityReport] = []
    for info in store.list_objects(quality_reports_prefix()):
        try:
            if info.key.startswith(QUALITY_REPORT_ARCHIVES):
                if info.key.endswith(".jsonl.gz"):
                    lines = gzip.decompress(store.get(info.key)).splitlines()
                    out += [QualityReport.model_validate_json(x) for x in lines if x.strip()]
            elif info.key.endswith(".json"):
                out.append(QualityReport.model_validate_json(store.get(info.key)))
        except (ObjectNotFound, OSError, ValueError):
            continue
    return out


def read_daily(store: ObjectStore, dataset: str | None = None) -> list[dict[str, Any]]:
    """Per-day summaries of reports retention has expired, oldest first (one dataset or all)."""
    try:
        lines = gzip.decompress(store.get(QUALITY_DAILY_KEY)).splitlines()
    except ObjectNotFound:
        return []
    rows = [json.loads(line) for line in lines if line.strip()]
    return [r for r in rows if dataset is None or r.get("dataset") == dataset]
