"""Data files: the time range of a written file, from COPY's file statistics."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bucketpipe.lake.parquet import column_bounds


def test_column_bounds_come_from_copy_statistics(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Europe/Helsinki'")  # statistics are UTC whatever the session
    rows = con.execute(
        "COPY (SELECT * FROM (VALUES (TIMESTAMPTZ '2026-01-05 15:00:00+00', 'a'), "
        "(TIMESTAMPTZ '2026-01-06 16:30:00+00', NULL)) AS t(\"event time\", note)) "
        f"TO '{tmp_path / 'out'}' (FORMAT parquet, RETURN_STATS)"
    ).fetchall()
    stats = rows[0][4]
    assert column_bounds(stats, "event time") == (
        "2026-01-05 15:00:00+00",
        "2026-01-06 16:30:00+00",
    )
    assert column_bounds(stats, "missing") == (None, None)
    assert column_bounds(None, "event time") == (None, None)
