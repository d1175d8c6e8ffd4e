"""Outliers: IQR fences and robust z-scores, worked by hand."""

from __future__ import annotations

import duckdb
import pytest

from bucketpipe.catalog.rules import OutlierRules
from bucketpipe.clean.outliers import compute_fences, excluded, make_fences

# 1..20 plus one 100 (21 values): Q1, median and Q3 sit exactly at positions 5, 10 and 15
# (0-based): 6, 11 and 16. IQR = 10, fences 6 - 15 = -9 and 16 + 15 = 31.
VALUES = [*range(1, 21), 100]


def _table(values: list[float], name: str = "amount") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    rows = ", ".join(f"({v})" for v in values)
    con.execute(f'CREATE TABLE t AS SELECT CAST(v AS DOUBLE) AS "{name}" FROM (VALUES {rows}) x(v)')
    return con


def test_fences_by_hand() -> None:
    con = _table(VALUES)
    (fence,) = compute_fences(con, "t", {"amount": "DOUBLE"}, OutlierRules())
    assert (fence.q1, fence.median, fence.q3) == (6.0, 11.0, 16.0)
    assert (fence.low, fence.high) == (-9.0, 31.0)
    # MAD: |x - 11| for 1..20 and 100 -> median of [10,9,..,0,..,9,89] = 5.
    assert fence.mad == 5.0
    assert fence.z_scale == pytest.approx(5.0 / 0.6745)


def test_condition_flags_only_the_far_value() -> None:
    con = _table(VALUES)
    (fence,) = compute_fences(con, "t", {"amount": "DOUBLE"}, OutlierRules())
    condition = fence.condition(OutlierRules())
    assert condition is not None
    flagged = con.execute(f"SELECT amount FROM t WHERE {condition}").fetchall()
    assert flagged == [(100.0,)]


def test_mad_zero_falls_back_to_mean_absolute_deviation() -> None:
    fence = make_fences("x", 10, 5.0, 5.0, 5.0, 0.0, 2.0, OutlierRules())
    assert (fence.low, fence.high) == (None, None)  # IQR = 0: no fences
    assert fence.z_scale == pytest.approx(1.253314 * 2.0)
    assert fence.condition(OutlierRules(method="both")) is None
    assert fence.condition(OutlierRules(method="zscore")) is not None


@pytest.mark.parametrize(
    ("name", "type_name", "skip"),
    [
        ("customer_id", "BIGINT", True),
        ("zip", "BIGINT", True),
        ("birth_year", "BIGINT", True),
        ("amount", "DOUBLE", False),
        ("amount", "VARCHAR", True),
    ],
)
def test_excluded_columns(name: str, type_name: str, skip: bool) -> None:
    assert excluded(name, type_name, OutlierRules()) is skip


def test_year_like_and_unique_integer_columns_are_not_tested() -> None:
    years = _table([2000 + i % 20 for i in range(40)] + [1990], name="built")
    con = years
    assert compute_fences(con, "t", {"built": "BIGINT"}, OutlierRules()) == []
    serial = _table([float(1000 + i) for i in range(40)], name="serial")
    assert compute_fences(serial, "t", {"serial": "BIGINT"}, OutlierRules()) == []
    # distinct but spread far wider than their number: amounts, not ids
    spread = _table([float(i * 97) for i in range(40)], name="amount")
    assert len(compute_fences(spread, "t", {"amount": "BIGINT"}, OutlierRules())) == 1


def test_too_few_values_are_not_tested() -> None:
    con = _table([1, 2, 3, 100])
    assert compute_fences(con, "t", {"amount": "DOUBLE"}, OutlierRules()) == []


def test_fences_of_a_large_table_come_from_a_sample_and_counts_from_every_row() -> None:
    """Above the exact size, quartiles and deviations are a uniform sample's, while the count,
    the distinct estimate and the range (which decide ids and years) are of every row."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT CAST(i % 1000 AS DOUBLE) AS amount, i AS serial, "
        "CASE WHEN i = 7 THEN 1e9 ELSE CAST(i % 1000 AS DOUBLE) END AS spiked "
        "FROM range(1_500_000) AS r(i)"
    )
    types = {"amount": "DOUBLE", "serial": "BIGINT", "spiked": "DOUBLE"}
    fences = {f.column: f for f in compute_fences(con, "t", types, OutlierRules())}
    assert set(fences) == {"amount", "spiked"}  # 0..1,499,999 are ids, on every row
    amount = fences["amount"]
    assert amount.count == 1_500_000
    # 0..999 evenly: Q1 249.75, median 499.5, Q3 749.25, MAD 250, within a sample's error.
    assert amount.q1 == pytest.approx(249.75, abs=15) and amount.q3 == pytest.approx(749.25, abs=15)
    assert amount.median == pytest.approx(499.5, abs=15) and amount.mad == pytest.approx(
        250, abs=15
    )
    condition = fences["spiked"].condition(OutlierRules())
    assert condition is not None
    assert con.execute(f"SELECT count(*) FROM t WHERE {condition}").fetchone() == (1,)
    # The sample is drawn once, into a temporary table that does not outlive the call.
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)
