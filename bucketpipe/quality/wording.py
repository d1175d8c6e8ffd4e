"""A quality report in words: counts ("1 row", "2,486 rows"), numbers to read, what its run did
with its input, and its recommendations apart from information."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from bucketpipe.quality.report import Dimension, QualityReport

# What the page says when there is nothing to act on. Reports written before information
# went to `notes` held this line among their recommendations, and the duplicates removed as a
# line ending in `_OLD_NOTE_END`.
ALL_CLEAR = "No action needed: every dimension is above its threshold."
_OLD_NOTE_END = "; nothing to fix."
ISSUES = {
    "empty_strings": ("empty string", "empty strings"),
    "spacing": ("value with stray spaces", "values with stray spaces"),
    "case_variants": ("casing variant", "casing variants"),
    "extremes": ("far-out value (beyond 3 \u00d7 IQR)", "far-out values (beyond 3 \u00d7 IQR)"),
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
    return [_far_out_now(report, line) for line in _as_now(report, todo)]


def steps(report: QualityReport) -> list[str]:
    """The cleaning steps the run applied, in words."""
    return [_OLD_OUTLIERS.sub(_outliers_now, line) for line in _as_now(report, report.steps)]


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


def unchanged_rows(report: QualityReport) -> int | None:
    """Of the rows the run delivered (one per key, what the scores describe), those equal to
    the committed row of their key, so not written again: counted among the duplicates
    removed too. None when the report cannot tell (it scored its input, not the commit)."""
    unchanged = report.rows - report.rows_written
    if report.basis != "committed" or not 0 <= unchanged <= report.rows_duplicate:
        return None
    return unchanged


def breakdown(report: QualityReport) -> str:
    """What the run did with its input rows: a sum when the parts add up to the rows in (a
    catalog dataset's do), else the parts. The duplicates are split into repeats within the
    run and rows already committed unchanged, so the rows scored (written + unchanged) can be
    found in the sum."""
    repeated = rejected_repeated(report)
    duplicates = quantity(report.rows_duplicate, "duplicate") + " removed"
    unchanged = unchanged_rows(report)
    if unchanged:
        within = report.rows_duplicate - unchanged
        duplicates += f" ({quantity(within, 'repeat')} within the run, {unchanged:,} unchanged)"
    parts = [
        (report.rows_written, quantity(report.rows_written, "row") + " written (new or changed)"),
        (report.rows_duplicate, duplicates),
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
    """A column's minimum or maximum (stored as text): a value of the data, so written with
    its own digits (thousands separated, up to six decimals: `1025.5` -> `1,025.5`, never
    rounded to `1,026`); a date as it is."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        return f"{value:,.0f}"
    shown = f"{value:,.6f}".rstrip("0")
    return shown if shown.rstrip(".-0,") else number_text(value)  # below a millionth


def score_value(value: float, decimals: int = 2) -> float:
    """A score rounded to `decimals`, but never up to 100 while below 100 (99.968 with one
    decimal is 99.9, not 100.0)."""
    shown = round(value, decimals)
    return shown if shown < 100 or value >= 100 else 100 - 10.0**-decimals


def score_text(value: float) -> str:
    """A score to read: one decimal, two when one would read 100 (99.97 %), "> 99.99 %" when
    two would; 100.0 % only when every check passed."""
    if value >= 100:
        return "100.0 %"
    if round(value, 1) < 100:
        return f"{value:.1f} %"
    return f"{value:.2f} %" if round(value, 2) < 100 else "> 99.99 %"


def dimension_score(dim: Dimension) -> float:
    """A dimension's score; from its counts when it was stored rounded up to 100."""
    if dim.score >= 100 and dim.denominator and dim.numerator < dim.denominator:
        return 100.0 * dim.numerator / dim.denominator
    return dim.score


def overall_score(report: QualityReport) -> float:
    """The report's overall score; the mean of its dimensions when it was stored rounded up
    to 100 while a dimension is below."""
    exact = [dimension_score(d) for d in report.dimensions.values()]
    if report.overall_score >= 100 and exact and min(exact) < 100:
        return sum(exact) / len(exact)
    return report.overall_score


def fence_text(value: float) -> str:
    """A limit to read: four significant digits (no trailing zeros), thousands separated, a
    minus sign; the exponent form only for magnitudes beyond 10^15 or below 10^-4."""
    if not math.isfinite(value) or value == 0:
        return "0" if value == 0 else str(value)
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 15 or magnitude < -4:
        text = f"{value:.4g}"
    else:
        decimals = 3 - magnitude
        text = f"{round(value, decimals):,.{max(decimals, 0)}f}"
        text = text.rstrip("0").rstrip(".") if decimals > 0 else text  # 19.1, not 19.10
    return text.replace("-", "\u2212")


def far_out(
    column: str, n: int, low: float, high: float, lowest: float | None, highest: float | None
) -> str:
    """The recommendation for a column's far-out values: a condition, with the fences that
    have values beyond them (a fence below the column's minimum is not mentioned)."""
    sides = []
    if lowest is None or lowest < low:
        sides.append("below " + fence_text(low))
    if highest is None or highest > high or not sides:
        sides.append("above " + fence_text(high))
    values, lie, they, are = (
        ("value", "lies", "it", "is") if n == 1 else ("values", "lie", "they", "are")
    )
    return (
        f"{n:,} {values} of {column} {lie} beyond the far-out fences (3 \u00d7 IQR): "
        f"{' or '.join(sides)}; if {they} {are} not real, check units and typing errors."
    )


def far_out_by(column: str, n: int, entities: tuple[str, ...]) -> str:
    """The recommendation for values beyond both the fences of all rows and their entity's."""
    entity = " and ".join(entities)
    values, lie, they, are = (
        ("value", "lies", "it", "is") if n == 1 else ("values", "lie", "they", "are")
    )
    return (
        f"{n:,} {values} of {column} {lie} beyond the far-out fences (3 \u00d7 IQR) of all "
        f"rows and of {'its' if n == 1 else 'their'} own {entity}; if {they} {are} not real, "
        "check units and typing errors."
    )


# How reports written before `far_out` worded far-out values and cleaning's outliers.
_OLD_FAR_OUT = re.compile(
    r"^Column '(?P<column>.+)' has (?P<n>[\d,]+) extreme values? \(outside (?P<low>\S+) \.\. "
    r"(?P<high>\S+)\): check units and typing errors\.$"
)
_OLD_OUTLIERS = re.compile(r"^(?P<what>[\d,]+ outliers? in .+): (?P<action>flag|clip|drop|empty)$")
OUTLIER_ACTIONS = {
    "flag": "flagged",
    "clip": "clipped to the fences",
    "drop": "dropped to quarantine",
    "empty": "emptied",
}
_OLD_OUTLIER_TEST = (
    "cleaning's outlier test, clean config `outliers`: by default beyond 1.5 \u00d7 IQR and robust "
    "z-score above 3.5"
)


def as_number(text: object) -> float | None:
    """A number from stored text (None when it is none)."""
    try:
        return None if text is None else float(str(text))
    except ValueError:
        return None


def _far_out_now(report: QualityReport, line: str) -> str:
    found = _OLD_FAR_OUT.match(line)
    low, high = (as_number(found["low"]), as_number(found["high"])) if found else (None, None)
    if found is None or low is None or high is None:
        return line
    profile = next((p for p in report.column_profiles if p.name == found["column"]), None)
    lowest = as_number(profile.min) if profile else None
    highest = as_number(profile.max) if profile else None
    n = int(found["n"].replace(",", ""))
    return far_out(found["column"], n, low, high, lowest, highest)


def _outliers_now(found: re.Match[str]) -> str:
    return f"{found['what']} {OUTLIER_ACTIONS[found['action']]} ({_OLD_OUTLIER_TEST})"
