"""Quality dimensions, profiles and recommendations, with every figure worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from bucketpipe.lake.storage import LocalStore
from bucketpipe.quality.profiling import EXACT_DISTINCT_ROWS, entity_columns, profile_columns
from bucketpipe.quality.report import (
    QualityReport,
    read_latest,
    read_reports,
    read_summary,
    update_latest,
    write_report,
)
from bucketpipe.quality.scoring import Counts, Delivery, assess, overall, score

THRESHOLDS = (80.0, 95.0, 90.0, 85.0)
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_dimensions_from_counts() -> None:
    counts = Counts(
        rows=10,
        columns=4,
        non_null_cells=36,
        distinct_keys=9,
        rows_quarantined=2,
        rows_invalid_kept=1,
        checked_cells=30,
        inconsistent_cells=3,
    )
    dims = score(counts, THRESHOLDS)
    # completeness 36/40, uniqueness 9/10, consistency 27/30, validity (10-1)/(10+2)
    assert {k: d.score for k, d in dims.items()} == {
        "completeness": 90.0,
        "uniqueness": 90.0,
        "consistency": 90.0,
        "validity": 75.0,
    }
    assert {k: d.passed for k, d in dims.items()} == {
        "completeness": True,
        "uniqueness": False,
        "consistency": True,
        "validity": False,
    }
    assert overall(dims) == 86.25  # (90 + 90 + 90 + 75) / 4


def test_nothing_to_measure_scores_100() -> None:
    dims = score(Counts(0, 3, 0, 0, 0, 0, 0, 0), THRESHOLDS)
    assert all(d.score == 100.0 and d.passed for d in dims.values())


ROWS = """
    (1, 'Helsinki', 10, DATE '2024-01-01'),
    (2, 'Helsinki', 11, DATE '2024-01-02'),
    (3, 'helsinki', 12, DATE '2024-01-03'),
    (4, ' Espoo',   13, DATE '1850-01-01'),
    (5, '',         14, DATE '2999-01-01'),
    (6, 'Espoo',    NULL, NULL),
    (6, 'Espoo',    15, DATE '2024-01-06'),
    (8, 'Tampere',  1000, DATE '2024-01-08')
"""
COLUMNS = [("id", "BIGINT"), ("city", "VARCHAR"), ("amount", "DOUBLE"), ("when", "DATE")]


@pytest.fixture
def report() -> QualityReport:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT id::BIGINT AS id, city, amount::DOUBLE AS amount, "
        f'"when" FROM (VALUES {ROWS}) AS v(id, city, amount, "when")'
    )
    delivery = Delivery(
        dataset="places",
        run_id="c1",
        now=NOW,
        key=("id",),
        rows_in=11,
        rows_quarantined=3,
        quarantine_reasons={"invalid DOUBLE in amount": 2, "missing value in id": 1},
    )
    return assess(con, "t", COLUMNS, delivery, THRESHOLDS)


def test_assessed_dimensions(report: QualityReport) -> None:
    dims = report.dimensions
    # 32 cells, 2 empty (amount and when of the first id-6 row)
    assert (dims["completeness"].numerator, dims["completeness"].denominator) == (30, 32)
    assert dims["completeness"].score == 93.75
    # ids 1,2,3,4,5,6,8: 7 distinct of 8 rows
    assert dims["uniqueness"].score == 87.5
    # checked: city 8 + amount 7 + when 7 (id is id-like, not checked) = 22; inconsistent:
    # city '' + ' Espoo' + 'helsinki' (casing) = 3, amount 1000 beyond Q3 + 3 IQR = 1,
    # when 2999 (future) + 1850 (before 1900) = 2 -> 16 / 22
    assert (dims["consistency"].numerator, dims["consistency"].denominator) == (16, 22)
    assert dims["consistency"].score == 72.73
    # 8 accepted of 8 + 3 quarantined
    assert dims["validity"].score == 72.73
    assert report.overall_score == 81.68  # (93.75 + 87.5 + 72.73 + 72.73) / 4
    assert not report.passed


def test_column_profiles(report: QualityReport) -> None:
    profiles = {p.name: p for p in report.column_profiles}
    amount = profiles["amount"]
    assert (amount.nulls, amount.null_pct, amount.distinct) == (1, 12.5, 7)
    assert (amount.min, amount.max) == ("10.0", "1000.0")
    assert amount.mean == pytest.approx(1075 / 7)
    assert amount.issues == {"extremes": 1}
    city = profiles["city"]
    assert [(t.value, t.count) for t in city.top_values] == [
        ("Espoo", 2),
        ("Helsinki", 2),
        ("", 1),
        (" Espoo", 1),
        ("Tampere", 1),
    ]
    assert city.issues == {"empty_strings": 1, "spacing": 1, "case_variants": 1}
    assert profiles["when"].issues == {"future": 1, "before_1900": 1}
    assert (profiles["when"].min, profiles["when"].max) == ("1850-01-01", "2999-01-01")


def test_recommendations_say_what_to_do(report: QualityReport) -> None:
    text = "\n".join(report.recommendations)
    assert "3 rows were rejected (most often: invalid DOUBLE in amount, 2 rows)" in text
    # One of a kind reads in the singular.
    assert "1 committed row repeats another row (key id): readers see it twice" in text
    assert "1 value that differs from a more common value only in letter case" in text
    assert "(e.g. 'helsinki' vs 'Helsinki')" in text
    assert "Column 'city' has 1 empty string instead" in text
    # amount's minimum (10) lies above the lower far-out fence: only the upper one is named.
    assert "1 value of amount lies beyond the far-out fences (3 \u00d7 IQR): above " in text
    assert "if it is not real, check units and typing errors." in text
    assert "Column 'when' has 1 date in the future" in text
    assert "Column 'when' has 1 date before 1900" in text
    assert " 1 rows" not in text and " 1 values" not in text and " 1 dates" not in text


def test_one_rejected_row_reads_in_the_singular() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS id FROM range(5)")
    delivery = Delivery(
        dataset="ok",
        run_id="c1",
        now=NOW,
        key=("id",),
        rows_quarantined=1,
        quarantine_reasons={"missing price": 1},
    )
    report = assess(con, "t", [("id", "BIGINT")], delivery, THRESHOLDS)
    assert report.recommendations == [
        "1 row was rejected (most often: missing price, 1 row): it is in quarantine/ok/; the "
        "dataset's rules keep such rows out (docs/datasets.md); check the source."
    ]
    # The remedy follows the reason: a type that did not parse can be pinned, a broken line
    # fixed at the source.
    for reason, remedy in (
        ("invalid DOUBLE in amount", "fix the source, or pin the column type."),
        ("malformed line: too many columns", "fix the source."),
    ):
        typed = assess(
            con, "t", [("id", "BIGINT")], replace(delivery, quarantine_reasons={reason: 1}),
            THRESHOLDS,
        )  # fmt: skip
        assert typed.recommendations[0].endswith(f"quarantine/ok/; {remedy}")


def test_calendars_may_hold_future_dates() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT DATE '2999-01-01' AS day")
    delivery = Delivery(dataset="ipo_calendar", run_id="c1", now=NOW, key=(), future_ok=True)
    report = assess(con, "t", [("day", "DATE")], delivery, THRESHOLDS)
    assert report.dimensions["consistency"].score == 100.0


def test_all_clear_recommendation() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS id, 'x' AS name FROM range(5)")
    delivery = Delivery(dataset="ok", run_id="c1", now=NOW, key=("id",))
    report = assess(con, "t", [("id", "BIGINT"), ("name", "VARCHAR")], delivery, THRESHOLDS)
    assert report.passed and report.overall_score == 100.0
    assert report.recommendations == []  # nothing to act on (the page says so)
    assert report.notes == []


def test_duplicates_removed_are_information_not_a_recommendation() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS id, 'x' AS name FROM range(5)")
    delivery = Delivery(dataset="ok", run_id="c1", now=NOW, key=("id",), rows_duplicate=1)
    report = assess(con, "t", [("id", "BIGINT"), ("name", "VARCHAR")], delivery, THRESHOLDS)
    assert report.passed
    assert report.recommendations == []
    assert report.notes == [
        "1 duplicate removed (rows repeating a key already in this run or in the committed data)."
    ]


def test_reports_round_trip_newest_first(tmp_path: Path, report: QualityReport) -> None:
    store = LocalStore(tmp_path / "lake")
    older = report.model_copy(update={"run_id": "c0", "created_at": NOW - timedelta(hours=1)})
    write_report(store, older)
    write_report(store, report)
    assert [r.run_id for r in read_reports(store, "places")] == ["c1", "c0"]
    assert read_latest(store) == {}
    update_latest(store, [report], run_id="c1", now=NOW, run_summary={"run_id": "c1"})
    latest = read_latest(store)
    assert latest["places"].overall_score == 81.68
    summary = read_summary(store)
    assert summary["datasets"]["places"]["dimensions"]["uniqueness"] == 87.5
    assert summary["average_score"] == 81.68 and summary["last_run"] == {"run_id": "c1"}


def test_far_out_values_are_counted_whether_or_not_the_extremes_rule_them_out() -> None:
    """A column whose minimum and maximum lie inside the far-out fences is not scanned again;
    the counts equal those of a scan of every column (NaN and infinities always count)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT i, CAST(i AS DOUBLE) AS inside, "
        "CASE WHEN i = 7 THEN 10000.0 ELSE CAST(i AS DOUBLE) END AS one_far, "
        "CASE WHEN i = 3 THEN 'nan'::DOUBLE WHEN i = 4 THEN '-inf'::DOUBLE "
        "ELSE CAST(i AS DOUBLE) END AS not_finite, "
        "CASE WHEN i < 3 THEN 5.0 END AS too_few, 1.0 AS flat FROM range(100) AS r(i)"
    )
    columns = [(c, "DOUBLE") for c in ("inside", "one_far", "not_finite", "too_few", "flat")]
    _, counts = profile_columns(con, "t", columns, now=NOW)
    found = {c.name: c.extremes for c in counts}
    assert found == {"inside": 0, "one_far": 1, "not_finite": 2, "too_few": 0, "flat": 0}
    limits = {c.name: c.extreme_limits for c in counts}
    assert limits["inside"] == (24.75 - 3 * 49.5, 74.25 + 3 * 49.5)
    assert limits["too_few"] is None and limits["flat"] is None


def test_an_estimated_distinct_count_never_exceeds_the_values_counted() -> None:
    """Above EXACT_DISTINCT_ROWS rows distinct values are a HyperLogLog estimate, which can
    count more values than there are; the profile keeps it to the non-empty values."""
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE t AS SELECT to_timestamp(i) AS seen, CASE WHEN i % 2 = 0 THEN i END AS half "
        f"FROM range({EXACT_DISTINCT_ROWS + 50_000}) AS r(i)"
    )
    raw = con.execute("SELECT approx_count_distinct(seen) FROM t").fetchone()
    assert raw is not None and raw[0] > EXACT_DISTINCT_ROWS + 50_000  # the estimate over-counts
    rows, counts = profile_columns(con, "t", [("seen", "TIMESTAMPTZ"), ("half", "BIGINT")], now=NOW)
    seen, half = counts
    assert not seen.distinct_exact and seen.non_null == rows
    assert seen.distinct == rows  # clamped to the values it counts
    assert 0 < half.distinct <= half.non_null == rows // 2


def test_far_out_fences_of_a_large_relation_come_from_a_sample_and_count_every_value() -> None:
    """Above the exact-quartile size the fences' quartiles are a uniform sample's; the values
    beyond them are still counted over every row (a subquery relation, as the batch is)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT CASE WHEN i < 5 THEN 1e6 ELSE CAST(i % 1000 AS DOUBLE) END "
        "AS v FROM range(1_200_000) AS r(i)"
    )
    _, (counts,) = profile_columns(con, "(SELECT * FROM t)", [("v", "DOUBLE")], now=NOW)
    assert not counts.distinct_exact and counts.extremes == 5
    assert counts.extreme_limits is not None
    low, high = counts.extreme_limits
    # Q1 and Q3 of 0..999 are 249.75 and 749.25: the fences 3 IQR beyond them, within a few
    # units (a sample of 100,000 rows).
    assert abs(low - (249.75 - 3 * 499.5)) < 30 and abs(high - (749.25 + 3 * 499.5)) < 30


def _two_price_levels(con: duckdb.DuckDBPyConnection, rows: int, extra: str = "") -> None:
    """Daily changes of a $5 share (within ±0.1) and a $500 share (within ±10), alternating,
    with one change of 3.0 for the cheap share: ordinary for the dear one, far out for it."""
    con.execute(
        "CREATE OR REPLACE TABLE t AS SELECT CASE WHEN i % 2 = 0 THEN 'CHEAP' ELSE 'DEAR' END "
        "AS symbol, i AS n, CASE WHEN i = 100 THEN 3.0 WHEN i % 2 = 0 THEN ((i % 97) - 48) / 480 "
        f"ELSE ((i % 89) - 44) / 4.4 END AS change FROM range({rows}) AS r(i){extra}"
    )


def test_far_out_values_of_a_time_series_are_judged_per_entity() -> None:
    """Pooled across symbols of different prices, ordinary moves of the dear share lie beyond
    the fences of all rows; of those, only the cheap share's 3.0 also lies beyond its own
    symbol's fences."""
    con = duckdb.connect()
    _two_price_levels(con, 2000)
    columns = [("symbol", "VARCHAR"), ("change", "DOUBLE")]
    _, pooled = profile_columns(con, "t", columns, now=NOW)
    assert pooled[1].extremes > 100 and pooled[1].extremes_by == ()
    _, (_, change) = profile_columns(con, "t", columns, now=NOW, entities=("symbol",))
    assert change.extremes == 1 and change.extremes_by == ("symbol",)
    found = con.execute(
        "SELECT symbol, n FROM t, (SELECT symbol AS s, quantile_cont(change, [0.25, 0.75]) AS q "
        "FROM t GROUP BY 1) WHERE s = symbol AND (change < q[1] - 3 * (q[2] - q[1]) OR "
        "change > q[2] + 3 * (q[2] - q[1]))"
    ).fetchall()
    assert found == [("CHEAP", 100)]


def test_an_entity_with_few_values_is_judged_by_the_pooled_fences() -> None:
    """A symbol with fewer values than a quartile can rest on keeps the fences of all rows: its
    one wild value is still reported; NaN counts whatever the fences."""
    con = duckdb.connect()
    _two_price_levels(con, 2000)
    con.execute("INSERT INTO t VALUES ('NEW', -1, 1e6), ('NEW', -2, 0.0), ('CHEAP', -3, 'nan')")
    columns = [("change", "DOUBLE")]
    _, (change,) = profile_columns(con, "t", columns, now=NOW, entities=("symbol",))
    assert change.extremes == 3  # the cheap share's 3.0, the new share's 1e6, the NaN


def test_entity_fences_of_a_large_relation_come_from_a_sample() -> None:
    """Above the exact size each entity's quartiles are those of the uniform sample; every row
    is still judged, and an entity absent from the sample by the pooled fences."""
    con = duckdb.connect()
    _two_price_levels(con, EXACT_DISTINCT_ROWS + 20_000)
    con.execute("INSERT INTO t VALUES ('RARE', -1, 1e9)")  # one row: seldom in the sample
    columns = [("change", "DOUBLE")]
    _, (change,) = profile_columns(con, "(SELECT * FROM t)", columns, now=NOW, entities=("symbol",))
    assert not change.distinct_exact and change.extremes == 2


def test_a_far_out_recommendation_names_the_entity_it_was_judged_by() -> None:
    con = duckdb.connect()
    _two_price_levels(con, 2000)
    delivery = Delivery(dataset="quotes", run_id="r1", now=NOW, key=("symbol", "n"))
    columns = [("symbol", "VARCHAR"), ("change", "DOUBLE")]
    pooled = assess(con, "t", columns, delivery, THRESHOLDS)
    assert any("change" in r and "far-out" in r for r in pooled.recommendations)
    per_symbol = assess(
        con, "t", columns, Delivery(**{**delivery.__dict__, "entities": ("symbol",)}), THRESHOLDS
    )
    (line,) = [r for r in per_symbol.recommendations if "far-out" in r]
    assert line == (
        "1 value of change lies beyond the far-out fences (3 \u00d7 IQR) of all rows and of its "
        "own symbol; if it is not real, check units and typing errors."
    )


def test_entity_columns_are_the_key_without_its_time_column() -> None:
    assert entity_columns(("symbol", "ts"), "ts") == ("symbol",)
    assert entity_columns(("symbol", "resolution", "ts"), "ts") == ("symbol", "resolution")
    assert entity_columns(("symbol", "year", "quarter"), "report_date") == ()
    assert entity_columns(("ts",), "ts") == ()
    assert entity_columns(("id",), None) == ()
