"""Scores and far-out values as the Quality page shows them: a score below 100 never reads
100, far-out values are named apart from cleaning's outliers, with limits to read."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from bucketpipe.catalog.rules import DatasetRules, OutlierRules
from bucketpipe.clean.summary import describe
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.quality import wording
from bucketpipe.quality.report import ColumnProfile, Dimension, QualityReport
from bucketpipe.quality.scoring import Counts, Delivery, assess, overall, score
from bucketpipe.serve.queries import quality

T0 = datetime(2026, 12, 5, tzinfo=UTC)
MARKS = (80.0, 80.0, 80.0, 80.0)


def counts(checked: int, inconsistent: int, rows: int = 50_001, invalid: int = 0) -> Counts:
    return Counts(
        rows=rows,
        columns=1,
        non_null_cells=rows,
        distinct_keys=rows,
        rows_quarantined=0,
        rows_invalid_kept=invalid,
        checked_cells=checked,
        inconsistent_cells=inconsistent,
    )


def test_a_score_below_100_is_never_stored_as_100() -> None:
    dims = score(counts(299_902, 11, invalid=16), MARKS)
    assert dims["consistency"].score < 100  # 299,891 of 299,902 = 99.9963 %
    assert dims["validity"].score == 99.97  # 49,985 of 50,001
    assert overall(dims) < 100
    assert score(counts(10, 0, rows=10), MARKS)["consistency"].score == 100.0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100.0, "100.0 %"),
        (95.46, "95.5 %"),
        (99.968, "99.97 %"),
        (99.9963, "> 99.99 %"),
        (99.94, "99.9 %"),
        (0.0, "0.0 %"),
    ],
)
def test_score_text_never_reads_100_below_100(value: float, text: str) -> None:
    assert wording.score_text(value) == text


@pytest.mark.parametrize(("value", "decimals", "shown"), [(99.968, 1, 99.9), (99.968, 2, 99.97)])
def test_score_value_rounds_but_never_up_to_100(value: float, decimals: int, shown: float) -> None:
    assert wording.score_value(value, decimals) == shown
    assert wording.score_value(100.0, decimals) == 100.0


def stored(numerators: tuple[int, ...], denominator: int) -> QualityReport:
    """A report as written before scores below 100 were kept below 100."""
    dims = {
        name: Dimension(
            score=round(100 * n / denominator, 2),
            threshold=80.0,
            passed=True,
            definition=name,
            numerator=n,
            denominator=denominator,
        )
        for name, n in zip(quality.DIMENSIONS, numerators, strict=True)
    }
    return QualityReport(
        dataset="quotes",
        run_id="clean-1",
        created_at=T0,
        rows=10,
        dimensions=dims,
        overall_score=100.0,
        passed=True,
    )


def test_an_older_report_rounded_to_100_shows_below_100() -> None:
    old = stored((299_902, 299_902, 299_891, 299_902), 299_902)
    assert old.dimensions["consistency"].score == 100.0  # as it was stored
    table = quality.overview({"quotes": old})
    assert table.loc[0, "consistency"] < 100 and table.loc[0, "overall_score"] < 100
    dims = quality.dimensions(old).set_index("dimension")
    assert dims.loc["consistency", "score"] < 100
    assert dims.loc["completeness", "score"] == 100.0


def test_fence_text_is_readable() -> None:
    assert wording.fence_text(-11.44) == "\u221211.44"
    assert wording.fence_text(10.9075) == "10.91"
    assert wording.fence_text(1517.75) == "1,518"
    assert wording.fence_text(1.03598e12) == "1,036,000,000,000"
    assert wording.fence_text(0.000123456) == "0.0001235"
    assert wording.fence_text(0.0) == "0"
    assert wording.fence_text(19.1) == "19.1"  # not 19.10
    assert wording.fence_text(-9.11) == "\u22129.11"


def far_out_report() -> QualityReport:
    con = duckdb.connect()
    # Counts of mentions: none below zero, one far above the rest.
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i = 7 THEN 100000 ELSE i % 50 END AS "
        "mention FROM range(100) r(i)"
    )
    delivery = Delivery(dataset="posts", run_id="clean-1", now=T0, key=("id",), rows_in=100)
    return assess(con, "t", [("id", "BIGINT"), ("mention", "BIGINT")], delivery, MARKS)


def test_far_out_values_read_as_a_condition_with_only_the_side_that_has_them() -> None:
    text = "\n".join(far_out_report().recommendations)
    assert (
        "1 value of mention lies beyond the far-out fences (3 \u00d7 IQR): above 110.8; if it is "
        "not real, check units and typing errors." in text
    )
    assert "below" not in text


def test_older_far_out_lines_are_read_in_the_new_words() -> None:
    old = stored((10, 10, 9, 10), 10).model_copy(
        update={
            "recommendations": [
                "Column 'mention' has 23 extreme values (outside -890.25 .. 1517.75): check "
                "units and typing errors.",
                "Column 'change' has 2 extreme values (outside -11.44 .. 10.9075): check "
                "units and typing errors.",
            ],
            "column_profiles": [
                ColumnProfile(
                    name="mention",
                    type="BIGINT",
                    nulls=0,
                    null_pct=0,
                    distinct=9,
                    min="0",
                    max="9000",
                ),
                ColumnProfile(
                    name="change",
                    type="DOUBLE",
                    nulls=0,
                    null_pct=0,
                    distinct=9,
                    min="-40.5",
                    max="31.0",
                ),
            ],
        }
    )
    assert wording.actions(old) == [
        "23 values of mention lie beyond the far-out fences (3 \u00d7 IQR): above 1,518; if they "
        "are not real, check units and typing errors.",
        "2 values of change lie beyond the far-out fences (3 \u00d7 IQR): below \u221211.44 or "
        "above 10.91; if they are not real, check units and typing errors.",
    ]


def test_cleaning_outliers_name_their_test_and_what_was_done() -> None:
    rules = DatasetRules(outliers=OutlierRules(action="flag"))
    steps = describe(
        DatasetResult(), {}, {}, {"temperature_c": {"count": 28, "action": "flag"}}, {}, rules
    )
    assert (
        "28 outliers in temperature_c flagged (cleaning's outlier test: beyond 1.5 \u00d7 IQR and "
        "robust z-score above 3.5)" in steps
    )


def test_older_cleaning_steps_are_read_in_the_new_words() -> None:
    old = stored((10, 10, 10, 10), 10).model_copy(
        update={"steps": ["28 outliers in temperature_c: flag", "1 outlier in x: clip"]}
    )
    assert wording.steps(old) == [
        "28 outliers in temperature_c flagged (cleaning's outlier test, clean config "
        "`outliers`: by default beyond 1.5 \u00d7 IQR and robust z-score above 3.5)",
        "1 outlier in x clipped to the fences (cleaning's outlier test, clean config "
        "`outliers`: by default beyond 1.5 \u00d7 IQR and robust z-score above 3.5)",
    ]


def test_issues_name_far_out_values_by_their_test() -> None:
    assert wording.issues_text({"extremes": 5}) == "5 far-out values (beyond 3 \u00d7 IQR)"
