"""Explore queries on an in-memory dataset: slices, statistics, series, pivots, pages, exports."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from bucketpipe.serve.queries import aggregates, base, explore


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        """
        CREATE VIEW weather AS
        SELECT ['Oulu', 'Turku', 'Oulu'][1 + i % 3] AS city,
               TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_hours(i) AS measured_at,
               i * 1.0 AS temp,
               2.0 * i + 1 AS double_temp,
               DATE '2026-01-01' AS dt,
               'x' AS _source_file
        FROM range(48) AS t(i)
        """
    )
    return con


def cols(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return explore.dataset_columns(con, "weather")


def test_time_column_prefers_real_time_over_partitions(con: duckdb.DuckDBPyConnection) -> None:
    assert explore.time_column("weather", cols(con)) == "measured_at"
    assert explore.time_column("weather", {"dt": "DATE", "x": "DOUBLE"}) == "dt"
    assert explore.time_column("weather", {"x": "DOUBLE"}) is None
    # A catalog dataset uses its declared time column.
    assert explore.time_column("quotes", {"ts": "TIMESTAMP WITH TIME ZONE", "day": "DATE"}) == "ts"


def test_kinds_leave_out_lineage_and_the_partition(con: duckdb.DuckDBPyConnection) -> None:
    assert explore.kinds(cols(con)) == {
        "numeric": ["temp", "double_temp"],
        "time": ["measured_at"],
        "categorical": ["city"],
    }


def test_windows_end_at_the_newest_row(con: duckdb.DuckDBPyConnection) -> None:
    whole = explore.Slice("weather", "measured_at")
    oldest, newest = explore.time_bounds(con, whole)
    assert newest - oldest == timedelta(hours=47)
    day = explore.windowed("weather", "measured_at", newest, "1 d")
    assert explore.count(con, day) == 24  # half-open: newer than 24 h before the newest row
    assert explore.count_sql(day)[0].endswith('WHERE "measured_at" > ?)')
    hour = explore.windowed("weather", "measured_at", newest, "1 h")
    assert explore.count(con, hour) == 1
    days = explore.windowed("weather", "dt", date(2026, 1, 10), "1 w")
    assert (days.start, days.after) == (date(2026, 1, 4), False)  # seven whole days
    assert explore.count(con, whole) == 48
    assert explore.window(newest, "All") is None
    assert explore.window(date(2026, 1, 10), "1 w") == date(2026, 1, 4)
    assert explore.window(date(2026, 1, 10), "1 h") == date(2026, 1, 10)


def test_profile_and_column_stats(con: duckdb.DuckDBPyConnection) -> None:
    whole = explore.Slice("weather", "measured_at")
    stats = explore.tidy_profile(explore.profile(con, whole, ["city", "temp"])).set_index("column")
    assert stats.loc["temp", "min"] == "0" and stats.loc["temp", "max"] == "47"
    assert stats.loc["temp", "mean"] == "23.5"
    column = explore.column_stats(con, whole, "city", "VARCHAR")
    assert (column.rows, column.non_null, column.distinct) == (48, 48, 2)
    assert column.null_pct == 0.0


def test_top_values_series_and_pivot(con: duckdb.DuckDBPyConnection) -> None:
    whole = explore.Slice("weather", "measured_at")
    top = aggregates.top_values(con, whole, "city")
    assert top.values.tolist() == [["Oulu", 32, 66.67], ["Turku", 16, 33.33]]
    daily = aggregates.series(con, whole, "temp", bucket="day", agg="max")
    assert daily["value"].tolist() == [23.0, 47.0]
    split = aggregates.series(con, whole, None, bucket="day", by="city")
    assert split.groupby("group")["value"].sum().to_dict() == {"Oulu": 32, "Turku": 16}
    matrix = aggregates.pivot(con, whole, "city", "measured_at", "temp", "sum", cols_are_time=True)
    assert list(matrix.columns) == ["2026-01-01", "2026-01-02"]
    assert matrix.loc["Turku", "2026-01-01"] == sum(i for i in range(24) if i % 3 == 1)


def test_pages_are_newest_first(con: duckdb.DuckDBPyConnection) -> None:
    whole = explore.Slice("weather", "measured_at")
    first = explore.page(con, whole, ["measured_at", "temp"], offset=0, limit=5)
    second = explore.page(con, whole, ["measured_at", "temp"], offset=5, limit=5)
    assert first["temp"].tolist() == [47.0, 46.0, 45.0, 44.0, 43.0]
    assert second["temp"].tolist() == [42.0, 41.0, 40.0, 39.0, 38.0]


def test_exports_hold_the_slice(con: duckdb.DuckDBPyConnection) -> None:
    start = datetime(2026, 1, 2, tzinfo=UTC)
    part = explore.Slice("weather", "measured_at", start)
    data, cut = explore.export(con, part, ["city", "temp"], "csv")
    frame = pd.read_csv(io.BytesIO(data))
    assert not cut and list(frame.columns) == ["city", "temp"] and len(frame) == 24
    data, _ = explore.export(con, part, ["city", "temp"], "parquet")
    assert pq.read_table(io.BytesIO(data)).num_rows == 24
    with pytest.raises(ValueError, match="unknown export format"):
        explore.export(con, part, ["city"], "xlsx")


def test_correlations_and_buckets() -> None:
    data = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 4, 6, 8], "c": [5, 5, 5, 5]})
    matrix = aggregates.correlations(data, ["a", "b", "c"])
    assert matrix.loc["a", "b"] == 1.0
    assert "c" not in matrix  # a constant has no correlation
    assert aggregates.correlations(data, ["a"]).empty
    assert aggregates.auto_bucket(datetime(2026, 1, 1), datetime(2026, 1, 2)) == "hour"
    assert aggregates.auto_bucket(datetime(2026, 1, 1), datetime(2026, 3, 1)) == "day"
    assert aggregates.auto_bucket(datetime(2020, 1, 1), datetime(2026, 1, 1)) == "month"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("12.5000", "12.5"), ("3", "3"), ("1234567.891234", "1,234,567.8912"), (None, None)],
)
def test_readable_numbers(value: str | None, shown: str | None) -> None:
    assert explore.readable(value) == shown


def test_lists_of_numbers_are_not_numeric_columns() -> None:
    assert base.is_numeric("DOUBLE") and base.is_numeric("DECIMAL(18,3)")
    assert not base.is_numeric("DOUBLE[]") and not base.is_numeric("BIGINT[3]")
    assert not base.is_numeric("VARCHAR")


def test_distinct_counts_are_exact_up_to_the_threshold(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = explore.Slice("weather", "measured_at")
    stats = explore.tidy_profile(explore.profile(con, whole, ["city", "temp"])).set_index("column")
    assert stats.loc["city", "distinct"] == "2" and stats.loc["temp", "distinct"] == "48"
    monkeypatch.setattr(explore, "EXACT_DISTINCT_MAX", 10)
    stats = explore.tidy_profile(explore.profile(con, whole, ["city", "temp"])).set_index("column")
    assert stats.loc["city", "distinct"] == "2"
    assert stats.loc["temp", "distinct"].startswith("\u2248 ")  # an estimate, and says so


def test_an_estimated_distinct_count_is_at_most_the_values_there_are(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HyperLogLog puts the 48 values of `temp` at 58; no column has more distinct values
    than values, so the estimate shown is at most 48, still marked as an estimate."""
    whole = explore.Slice("weather", "measured_at")
    (guess,) = con.execute("SELECT approx_count_distinct(temp) FROM weather").fetchone() or ()
    assert guess > 48  # what the clamp is for
    monkeypatch.setattr(explore, "EXACT_DISTINCT_MAX", 10)
    stats = explore.profile(con, whole, ["city", "temp"]).set_index("column")
    assert stats.loc["temp", "distinct"] == 48 and not stats.loc["temp", "distinct_exact"]
    assert explore.tidy_profile(stats.reset_index()).iloc[1]["distinct"] == "\u2248 48"


def test_pivot_extent_counts_days_and_values(con: duckdb.DuckDBPyConnection) -> None:
    whole = explore.Slice("weather", "measured_at")
    days = explore.pivot_extent(con, whole, "city", "measured_at", cols_are_time=True)
    assert days == explore.PivotExtent(2, 2, date(2026, 1, 1), date(2026, 1, 2))
    values = explore.pivot_extent(con, whole, "city", "temp", cols_are_time=False)
    assert (values.rows, values.cols, values.first) == (2, 48, None)


def test_series_pools_the_rest_as_others(con: duckdb.DuckDBPyConnection) -> None:
    whole = explore.Slice("weather", "measured_at")
    split = aggregates.series(con, whole, None, bucket="day", by="city", max_groups=1)
    assert split.groupby("group")["value"].sum().to_dict() == {"Oulu": 32, "others": 16}
    assert explore.entity_column(["category", "city"]) == "category"
    assert explore.entity_column([]) is None


def test_shown_sql_reproduces_the_figures(con: duckdb.DuckDBPyConnection) -> None:
    """The "show SQL" text, parameters written in, gives the numbers the page shows."""
    part = explore.Slice("weather", "measured_at", datetime(2026, 1, 2, tzinfo=UTC), None)
    text = base.runnable(*explore.count_sql(part))
    assert "TIMESTAMPTZ '2026-01-02 00:00:00+00:00'" in text
    assert con.execute(text).fetchone() == (explore.count(con, part),)
    sql, params = aggregates.series_sql(part, "temp", bucket="day", agg="max", by="city")
    shown = base.frame(con, base.runnable(sql, params), [])
    assert shown.equals(aggregates.series(con, part, "temp", bucket="day", agg="max", by="city"))
    assert base.runnable("SELECT ?, ?, ?", ["it's", date(2026, 1, 2), None]) == (
        "SELECT 'it''s', DATE '2026-01-02', NULL"
    )


def test_shown_sql_reproduces_the_sampled_charts_and_top_values(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """The histogram, box plot, scatter and correlations draw a sample; the SQL shown beside
    them gives the same rows, and the correlations and top values the same figures."""
    con.execute(
        "CREATE VIEW noisy AS SELECT *, (i * 7919) % 31 AS wobble FROM "
        "(SELECT *, CAST(temp AS INTEGER) AS i FROM weather)"
    )
    whole = explore.Slice("noisy", "measured_at")
    cols = ("temp", "wobble", "city")
    drawn = aggregates.sample(con, whole, cols, n=20)
    shown = base.frame(con, base.runnable(*aggregates.sample_sql(whole, cols, n=20)), [])
    assert len(drawn) == 20 and shown.equals(drawn)
    used = aggregates.correlated(drawn, ["temp", "wobble"])
    matrix = aggregates.correlations(drawn, used)
    pairs = con.execute(base.runnable(*aggregates.correlations_sql(whole, used, n=20))).fetchall()
    assert pairs == [("temp", "wobble", matrix.loc["temp", "wobble"])]
    assert 0 < abs(pairs[0][2]) < 1
    top = aggregates.top_values(con, whole, "city", 1)
    again = base.frame(con, base.runnable(*aggregates.top_values_sql(whole, "city", 1)), [])
    assert again.equals(top) and top.iloc[0].tolist() == ["Oulu", 32, 66.67]


def test_quartiles_are_exact_up_to_the_threshold(con: duckdb.DuckDBPyConnection) -> None:
    """SUMMARIZE puts the quartiles of 0..47 at 12 / 24 / 36; they are 11.75 / 23.5 / 35.25,
    and a quartile of times is a time a row has."""
    whole = explore.Slice("weather", "measured_at")
    shown = ["city", "temp", "measured_at"]
    stats = explore.tidy_profile(explore.profile(con, whole, shown)).set_index("column")
    assert stats.loc["temp", ["p25", "median", "p75"]].tolist() == ["11.75", "23.5", "35.25"]
    assert stats.loc["measured_at", "p25"] == "2026-01-01 11:00:00+00"
    assert stats.loc["measured_at", "p75"] == "2026-01-02 11:00:00+00"
    assert pd.isna(stats.loc["city", "median"])


def test_quartiles_of_a_large_slice_are_marked_estimates(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(explore, "EXACT_DISTINCT_MAX", 10)
    whole = explore.Slice("weather", "measured_at")
    stats = explore.tidy_profile(explore.profile(con, whole, ["temp", "measured_at"]))
    stats = stats.set_index("column")
    assert stats.loc["temp", "median"].startswith("\u2248 ")
    assert stats.loc["measured_at", "p25"].startswith("\u2248 2026-01-01")


def test_estimated_times_are_shown_to_the_second() -> None:
    stats = pd.DataFrame(
        {
            "column": ["ts"],
            "mean": ["2026-11-13 15:15:43.333333+00"],
            "p25": ["2026-11-13 15:15:43.5+00"],
            "quantiles_exact": [False],
        }
    )
    tidy = explore.tidy_profile(stats).iloc[0]
    assert tidy["mean"] == "2026-11-13 15:15:43+00"
    assert tidy["p25"] == "\u2248 2026-11-13 15:15:43+00"


def test_the_charts_say_when_they_show_every_row(con: duckdb.DuckDBPyConnection) -> None:
    whole = explore.Slice("weather", "measured_at")
    data = aggregates.sample(con, whole, ["temp"])
    assert aggregates.sample_note(len(data)) == "Charts use all 48 rows."
    data = aggregates.sample(con, whole, ["temp"], n=10)
    assert aggregates.sample_note(len(data), n=10) == "Charts use a sample of 10 rows."
