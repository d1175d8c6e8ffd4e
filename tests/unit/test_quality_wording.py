"""A quality report in words: counts, numbers, the run's input broken down, actions apart
from information."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bucketpipe.quality import wording
from bucketpipe.quality.report import Dimension, QualityReport

T0 = datetime(2026, 12, 5, tzinfo=UTC)


def report(**fields: Any) -> QualityReport:
    dims = {
        name: Dimension(
            score=100.0,
            threshold=80.0,
            passed=True,
            definition=name,
            numerator=10,
            denominator=10,
        )
        for name in ("completeness", "uniqueness", "consistency", "validity")
    }
    body = {
        "dataset": "quotes",
        "run_id": "clean-1",
        "created_at": T0,
        "kind": "catalog",
        "basis": "committed",
        "rows": 10,
        "dimensions": dims,
        "overall_score": 100.0,
        "passed": True,
        **fields,
    }
    # As a stored report is read: a field it does not hold stays unset.
    return QualityReport.model_validate(body)


@pytest.mark.parametrize(
    ("n", "noun", "plural", "text"),
    [
        (0, "row", None, "0 rows"),
        (1, "row", None, "1 row"),
        (2486, "duplicate", None, "2,486 duplicates"),
        (1, "value with stray spaces", "values with stray spaces", "1 value with stray spaces"),
        (3, "value with stray spaces", "values with stray spaces", "3 values with stray spaces"),
    ],
)
def test_quantity(n: int, noun: str, plural: str | None, text: str) -> None:
    assert wording.quantity(n, noun, plural) == text


def test_the_inputs_parts_add_up_to_the_rows_in() -> None:
    # Three overlapping ingests cleaned at once: the rejected rows came three times.
    done = report(
        rows_in=3736,
        rows_written=1215,
        rows_duplicate=2486,
        rows_quarantined=23,
        rows_rejected_repeated=12,
    )
    assert wording.breakdown(done) == (
        "3,736 rows in = 1,215 rows written (new or changed) + 2,486 duplicates removed + "
        "23 distinct rows rejected + 12 repeats of a rejected row, counted once"
    )


def test_a_report_written_before_repeats_were_recorded_names_them_too() -> None:
    older = report(rows_in=3736, rows_written=1215, rows_duplicate=2486, rows_quarantined=23)
    assert "rows_rejected_repeated" not in older.model_fields_set
    assert wording.rejected_repeated(older) == 12
    assert wording.breakdown(older).endswith("+ 12 repeats of a rejected row, counted once")


def test_parts_that_do_not_add_up_are_not_written_as_a_sum() -> None:
    landed = report(kind="generic", rows_in=100, rows_written=90, rows_quarantined=4)
    assert wording.breakdown(landed) == (
        "100 rows in; 90 rows written (new or changed), 4 distinct rows rejected"
    )
    nothing = report(rows_in=0)
    assert wording.breakdown(nothing) == "0 rows in = 0 rows written (new or changed)"
    again = report(rows_in=40, rows=0, rows_duplicate=40, rows_rejected_repeated=0)
    assert wording.breakdown(again) == (
        "40 rows in = 0 rows written (new or changed) + 40 duplicates removed"
    )


def test_rows_already_committed_unchanged_are_named_among_the_duplicates() -> None:
    """A re-ingest: 973 rows in, 13 rejected, 27 repeats within the run, so 933 keys
    delivered (the rows scored), of which 10 equal their committed row and 923 are written.
    The sum names both kinds of duplicate, so 933 = 923 + 10 can be read off it."""
    again = report(
        rows_in=973,
        rows=933,
        rows_written=923,
        rows_duplicate=37,
        rows_quarantined=13,
        rows_rejected_repeated=0,
    )
    assert wording.unchanged_rows(again) == 10
    assert wording.breakdown(again) == (
        "973 rows in = 923 rows written (new or changed) + 37 duplicates removed "
        "(27 repeats within the run, 10 unchanged) + 13 distinct rows rejected"
    )
    # A report that scored its input, not the commit, cannot tell: no split.
    assert wording.unchanged_rows(again.model_copy(update={"basis": "input"})) is None


def test_information_is_not_counted_as_a_recommendation() -> None:
    new = report(
        recommendations=["Column 'x' has 2 extreme values: check units."],
        notes=["40 duplicates removed (rows repeating a key)."],
    )
    assert wording.actions(new) == ["Column 'x' has 2 extreme values: check units."]
    assert wording.notes(new) == ["40 duplicates removed (rows repeating a key)."]
    # Reports written before held the all-clear line and the duplicates among them.
    older = report(
        recommendations=[
            "No action needed: every dimension is above its threshold.",
            "40 duplicates removed (rows repeating a key already in this run or in the "
            "committed data); nothing to fix.",
        ]
    )
    assert wording.actions(older) == []
    assert wording.notes(older) == [
        "40 duplicates removed (rows repeating a key already in this run or in the committed data)."
    ]


@pytest.mark.parametrize(
    ("distinct", "exact", "non_null", "text"),
    [
        (1202, True, 1202, "1,202"),
        (894_389, False, 1_050_000, "≈ 894,000"),
        (1_251_278, False, 1_050_000, "≈ 1,050,000"),  # never above the values counted
        (1_049_999, False, 1_049_999, "≈ 1,049,999"),  # rounding does not go above either
        (5, False, 0, "≈ 0"),
    ],
)
def test_distinct_text(distinct: int, exact: bool, non_null: int, text: str) -> None:
    assert wording.distinct_text(distinct, exact, non_null) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (53513606.4471, "53,513,606"),
        (213.4567, "213.46"),
        (-0.0123, "-0.01"),
        (0.000123456, "0.000123"),
        (1200.0, "1,200"),
        (3.0, "3"),
        (float("nan"), "nan"),
    ],
)
def test_number_text(value: float, text: str) -> None:
    assert wording.number_text(value) == text


def test_values_and_issues_as_text() -> None:
    assert wording.value_text("53513606.0") == "53,513,606"
    # A minimum or maximum is a value of the data: its own digits, never rounded.
    assert wording.value_text("1025.5") == "1,025.5"
    assert wording.value_text("997.70") == "997.7"
    assert wording.value_text("-4.9") == "-4.9"
    assert wording.value_text("0.00012") == "0.00012"
    assert wording.value_text("2e-09") == "2e-09"
    assert wording.value_text("2026-11-05 14:30:00+00") == "2026-11-05 14:30:00+00"
    assert wording.value_text(None) is None
    assert wording.issues_text({"extremes": 5, "empty_strings": 1, "future": 0}) == (
        "5 far-out values (beyond 3 \u00d7 IQR), 1 empty string"
    )


def test_an_older_reports_one_of_a_kind_reads_in_the_singular() -> None:
    older = report(
        rows_quarantined=1,
        recommendations=[
            "1 rows were rejected (most often: unknown symbol: no metrics, 1 rows): they are in "
            "quarantine/basic_financials/; fix the source, or pin the column type.",
            "Column 'city' has 1 values that differ from a more common value only in letter "
            "case: normalise the casing at the source.",
            "Column 'when' has 1 dates in the future.",
        ],
        steps=["1 rows rejected by the dataset's rules", "1 duplicates removed (key id)"],
    )
    assert wording.actions(older) == [
        "1 row was rejected (most often: unknown symbol: no metrics, 1 row): it is in "
        "quarantine/basic_financials/; fix the source, or pin the column type.",
        "Column 'city' has 1 value that differs from a more common value only in letter "
        "case: normalise the casing at the source.",
        "Column 'when' has 1 date in the future.",
    ]
    assert wording.steps(older) == [
        "1 row rejected by the dataset's rules",
        "1 duplicate removed (key id)",
    ]
    # A report that has `notes` is worded as written.
    new = report(notes=[], steps=["11 rows rejected by the dataset's rules"])
    assert wording.steps(new) == ["11 rows rejected by the dataset's rules"]
