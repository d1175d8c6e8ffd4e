"""Plain-language recommendations from a quality report: what is wrong and what to do."""

from __future__ import annotations

from collections.abc import Sequence

from bucketpipe.quality.profiling import ColumnCounts
from bucketpipe.quality.report import QualityReport
from bucketpipe.quality.wording import as_number, far_out, far_out_by, quantity

MOSTLY_EMPTY = 0.9
MAX_ITEMS = 12


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "0%"


def _completeness(report: QualityReport, columns: Sequence[ColumnCounts]) -> list[str]:
    out = []
    # Only where a value is due: a column empty by definition elsewhere (an actual before its
    # release, an indicator before its window fills) is judged on the other rows.
    gaps = sorted(
        (c for c in columns if c.due_cells and c.filled_cells < c.due_cells),
        key=lambda c: c.filled_cells / c.due_cells,
    )
    for c in gaps:
        due, empty = c.due_cells, c.due_cells - c.filled_cells
        where = "row" if c.due is None else "row where a value is due"
        if c.filled_cells == 0:
            out.append(
                f"Column '{c.name}' is empty in every {where}: drop it at the source or ignore it."
            )
        elif empty / due >= MOSTLY_EMPTY:
            out.append(
                f"Column '{c.name}' is {_pct(empty, due)} empty: consider dropping it "
                "(clean config `missing.drop_columns_over: 0.9`)."
            )
        elif not report.dimensions["completeness"].passed and len(out) < 3:
            out.append(
                f"Column '{c.name}' is {_pct(empty, due)} empty: check the source, or fill "
                "it (clean config `missing.numeric` / `missing.text` / `missing.ffill_*`)."
            )
    return out


def _consistency(columns: Sequence[ColumnCounts]) -> list[str]:
    out = []
    for c in columns:
        if c.case_variants:
            example = (
                f" (e.g. '{c.case_example[0]}' vs '{c.case_example[1]}')"
                if len(c.case_example) == 2
                else ""
            )
            differs = "differs" if c.case_variants == 1 else "differ"
            out.append(
                f"Column '{c.name}' has {quantity(c.case_variants, 'value')} that {differs} "
                f"from a more common value only in letter case{example}: normalise the casing "
                "at the source."
            )
        if c.spacing:
            out.append(
                f"Column '{c.name}' has {quantity(c.spacing, 'value')} with leading, trailing "
                "or doubled spaces: trim them at the source."
            )
        if c.empty_strings:
            out.append(
                f"Column '{c.name}' has {quantity(c.empty_strings, 'empty string')} instead of "
                "NULL."
            )
        if c.extremes and c.extremes_by:
            out.append(far_out_by(c.name, c.extremes, c.extremes_by))
        elif c.extremes and c.extreme_limits:
            low, high = c.extreme_limits
            out.append(far_out(c.name, c.extremes, low, high, as_number(c.min), as_number(c.max)))
        elif c.extremes:  # NaN or infinity only: no fences to compare with
            are = "is" if c.extremes == 1 else "are"
            out.append(
                f"Column '{c.name}' has {quantity(c.extremes, 'value')} that {are} not a "
                "finite number (NaN or infinity): check the source."
            )
        if c.future:
            out.append(f"Column '{c.name}' has {quantity(c.future, 'date')} in the future.")
        if c.before_1900:
            out.append(
                f"Column '{c.name}' has {quantity(c.before_1900, 'date')} before 1900: often a "
                "placeholder such as 0001-01-01 for 'unknown'."
            )
    return out


def _drift(report: QualityReport) -> list[str]:
    drift = report.drift or {}
    out = []
    if drift.get("new_columns"):
        out.append("New columns appeared: " + ", ".join(drift["new_columns"]) + ".")
    if drift.get("missing_columns"):
        out.append(
            "Columns missing from this run's files (kept, empty): "
            + ", ".join(drift["missing_columns"])
            + "."
        )
    for name, change in (drift.get("retyped_columns") or {}).items():
        if change.get("action") == "widened":
            out.append(
                f"Column '{name}' was widened from {change['committed']} to {change['written']}."
            )
        else:
            out.append(
                f"Column '{name}' is {change['committed']} but this run's values look "
                f"{change['inferred']}: the type was kept and values that do not fit were "
                "quarantined; pin the type in the clean config if the change is intended."
            )
    return out


def notes(report: QualityReport) -> list[str]:
    """Information about the run that asks for no action."""
    if not report.rows_duplicate:
        return []
    # Repeats in the input (overlapping ingest runs, a source sending a row twice) are what
    # deduplication is for.
    return [
        f"{quantity(report.rows_duplicate, 'duplicate')} removed (rows repeating a key already "
        "in this run or in the committed data)."
    ]


def _remedy(reason: str) -> str:
    """What to do about rejected rows, by their most common reason."""
    if reason.startswith("invalid "):  # a value that does not parse as its column's type
        return "fix the source, or pin the column type."
    if reason.startswith("malformed line"):
        return "fix the source."
    # A rule of the dataset (docs/datasets.md): the source's values, kept out of the dataset.
    return "the dataset's rules keep such rows out (docs/datasets.md); check the source."


def recommend(report: QualityReport, columns: Sequence[ColumnCounts]) -> list[str]:
    """What to do, most important first; none when nothing stands out (information such as
    duplicates removed is in `notes`, not here)."""
    out: list[str] = []
    dims = report.dimensions
    if report.rows_quarantined:
        top = max(report.quarantine_reasons.items(), key=lambda kv: kv[1], default=None)
        reason = f" (most often: {top[0]}, {quantity(top[1], 'row')})" if top else ""
        was, they = ("was", "it is") if report.rows_quarantined == 1 else ("were", "they are")
        out.append(
            # Rejected by this delivery; a row an earlier run already quarantined is counted
            # (the score describes the delivery) but not stored again.
            f"{quantity(report.rows_quarantined, 'row')} {was} rejected{reason}: {they} in "
            f"quarantine/{report.dataset}/; {_remedy(top[0] if top else '')}"
        )
    if report.rows_invalid_kept:
        was = "was" if report.rows_invalid_kept == 1 else "were"
        out.append(
            f"{quantity(report.rows_invalid_kept, 'row')} {was} kept with values that did not "
            "parse made empty (see `_invalid_columns`)."
        )
    if not dims["uniqueness"].passed:
        duplicates = dims["uniqueness"].denominator - dims["uniqueness"].numerator
        by = "key " + ", ".join(report.key) if report.key else "identical content"
        repeat, them = ("repeats", "it") if duplicates == 1 else ("repeat", "them")
        out.append(
            f"{quantity(duplicates, 'committed row')} {repeat} another row ({by}): readers "
            f"see {them} twice; check the dataset's key."
        )
    out += _completeness(report, columns)
    out += _consistency(columns)
    out += _drift(report)
    if not out and not all(d.passed for d in dims.values()):
        return ["Scores are below a threshold; see the column profiles for details."]
    return out[:MAX_ITEMS]
