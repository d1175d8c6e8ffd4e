"""A quality report in words: counts ("1 row", "2,486 rows"), numbers to read, what its run did
with its input, and its recommendations apart from information."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from bucketpipe.quality.report import QualityReport

# What the page says when there is nothing to act on. Reports written before information
# went to `notes` held this line among their recommendations, and the duplicates removed as a
# line ending in `_OLD_NOTE_END`.
ALL_CLEAR = "No action needed: every dimension is above its threshold."
_OLD_NOTE_END = "; nothing to fix."
ISSUES = {
    "empty_strings": ("empty string", "empty strings"),
    "spacing": ("value with stray spaces", "values with stray spaces"),
    "case_variants": ("casing variant", "casing variants"),
    "extremes": ("far-out value", "far-out values"),
    "future": ("date in the future", "dates in the future"),
    "before_1900": ("date before 1900", "dates before 1900"),
}


def quantity(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for exactly one (`plural` defaults to noun + "s")."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


# How reports written before `notes` said one of a kind ("1 rows were rejected").
_OLD_PLURALS = [
    (re.compile(r"^1 rows were rejected(.*?): they are in"), r"1 row was rejected\1: it is in"),
    (re.compile(r"\b1 rows were\b"), "1 row was"),
    (re.compile(r"\b1 committed rows repeat\b"), "1 committed row repeats"),
    (re.compile(r"\b1 values that differ\b"), "1 value that differs"),
    (re.compile(r"\b1 (row|value|empty string|extreme value|date|duplicate)s\b"), r"1 \1"),
]


def _as_now(report: QualityReport, lines: list[str]) -> list[str]:
    """Lines of a report as the current wording has them (older reports said "1 rows")."""
    if "notes" in report.model_fields_set:
        return lines
    out = []
    for line in lines:
        for pattern, replacement in _OLD_PLURALS:
            line = pattern.sub(replacement, line)
        out.append(line)
    return out


def actions(report: QualityReport) -> list[str]:
    """The report's recommendations: the things to act on, nothing else."""
    todo = [r for r in report.recommendations if r != ALL_CLEAR and not r.endswith(_OLD_NOTE_END)]
    return _as_now(report, todo)


def steps(report: QualityReport) -> list[str]:
    """The cleaning steps the run applied, in words."""
    return _as_now(report, report.steps)


def notes(report: QualityReport) -> list[str]:
    """Information that asks for no action, such as duplicates removed."""
    older = [
        r.removesuffix(_OLD_NOTE_END) + "."
        for r in report.recommendations
        if r.endswith(_OLD_NOTE_END)
    ]
    return [*report.notes, *_as_now(report, older)]


def rejected_repeated(report: QualityReport) -> int:
    """Rejected rows the run's input held more than once: as the report records them, else (a
    catalog report written before they were recorded) what its input held beyond the rows
    written, the duplicates and the distinct rejected rows."""
    if "rows_rejected_repeated" in report.model_fields_set or report.kind != "catalog":
        return report.rows_rejected_repeated
    rest = report.rows_in - report.rows_written - report.rows_duplicate - report.rows_quarantined
    return max(rest, 0)


def breakdown(report: QualityReport) -> str:
    """What the run did with its input rows: a sum when the parts add up to the rows in (a
    catalog dataset's do), else the parts."""
    repeated = rejected_repeated(report)
    parts = [
        (report.rows_written, quantity(report.rows_written, "row") + " written (new or changed)"),
        (report.rows_duplicate, quantity(report.rows_duplicate, "duplicate") + " removed"),
        (report.rows_quarantined, quantity(report.rows_quarantined, "distinct row") + " rejected"),
        (repeated, quantity(repeated, "repeat") + " of a rejected row, counted once"),
    ]
    shown = [parts[0][1], *(text for n, text in parts[1:] if n)]
    rows_in = quantity(report.rows_in, "row") + " in"
    if sum(n for n, _ in parts) == report.rows_in:
        return f"{rows_in} = " + " + ".join(shown)
    return f"{rows_in}; " + ", ".join(shown)


def issues_text(issues: Mapping[str, int]) -> str:
    """`5 far-out values, 1 empty string`: the counts behind a column's consistency."""
    return ", ".join(quantity(n, *ISSUES.get(k, (k, k))) for k, n in issues.items() if n)


def distinct_text(distinct: int, exact: bool, non_null: int) -> str:
    """`1,202`, or `≈ 894,000` for an estimate: three significant digits, never more than the
    column's non-empty values."""
    if exact:
        return f"{distinct:,}"
    held = max(non_null, 0)
    estimate = min(distinct, held)
    rounded = min(int(float(f"{estimate:.3g}")), held)
    return f"≈ {rounded:,}"


def number_text(value: float) -> str:
    """A number to read: thousands separated; two decimals below 1,000 (three significant
    digits below 0.01), none from 1,000 up or for a whole number."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 0.01:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def value_text(text: str | None) -> str | None:
    """A column's minimum or maximum (stored as text): a number formatted, a date as it is."""
    if text is None:
        return None
    try:
        return number_text(float(text))
    except ValueError:
        return text
