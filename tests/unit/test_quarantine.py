"""Reading quarantine: summaries, samples, and no double counting around compaction."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from bucketpipe.clean.rejects import Quarantined, write_quarantine
from bucketpipe.lake.quarantine import DAY_FILE_PREFIX, sample, summary
from bucketpipe.lake.storage import LocalStore


def _write(store: LocalStore, key: str, rows: list[tuple[str, str, str]]) -> None:
    path = Path(store.duckdb_path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    values = ", ".join(f"('{r}', '{reason}', '{v}')" for r, reason, v in rows)
    duckdb.connect().execute(
        f"COPY (SELECT * FROM (VALUES {values}) AS t(_clean_run, _reject_reason, amount)) "
        f"TO '{path}' (FORMAT parquet)"
    )


def test_summary_and_sample(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    _write(store, "quarantine/shop/dt=2025-01-01/c1.parquet", [("c1", "bad amount", "x")] * 2)
    _write(store, "quarantine/shop/dt=2025-01-02/c2.parquet", [("c2", "empty row", "")])
    con = duckdb.connect()
    (shop,) = summary(store, con)
    assert (shop.dataset, shop.rows, shop.files, shop.last_run) == ("shop", 3, 2, "c2")
    assert shop.reasons == {"bad amount": 2, "empty row": 1}
    assert (str(shop.first_day), str(shop.last_day)) == ("2025-01-01", "2025-01-02")
    assert list(sample(store, con, "shop", 10)["_clean_run"]) == ["c2", "c1", "c1"]
    assert len(sample(store, con, "shop", 10, reason="empty row")) == 1
    assert sample(store, con, "missing").empty


def test_rows_are_not_counted_twice_while_compaction_is_half_done(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    day = "quarantine/shop/dt=2025-01-01/"
    _write(store, f"{day}c1.parquet", [("c1", "r", "1")])
    _write(store, f"{day}c2.parquet", [("c2", "r", "2"), ("c2", "r", "3")])
    # compaction wrote the day file, then stopped before deleting the run files
    _write(
        store,
        f"{day}{DAY_FILE_PREFIX}k1.parquet",
        [("c1", "r", "1"), ("c2", "r", "2"), ("c2", "r", "3")],
    )
    # and a later clean run added its own file to the same day
    _write(store, f"{day}c3.parquet", [("c3", "r", "4")])
    (shop,) = summary(store, duckdb.connect())
    assert shop.rows == 4


def test_write_quarantine_counts_repeats_of_a_rejected_row_directly(tmp_path: Path) -> None:
    """Each rejected row is stored once per content and reason; its further copies in the
    input are counted as repeats (not derived from other counts), on a first delivery and on a
    re-delivery whose rows are in quarantine already."""
    store = LocalStore(tmp_path / "lake")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE bad AS SELECT * FROM (VALUES ('A', 'x', 'invalid DOUBLE in price', 'r1'), "
        "('A', 'x', 'invalid DOUBLE in price', 'r2'), ('A', 'x', 'invalid DOUBLE in price', 'r2'), "
        "('B', 'y', 'missing value in ts', 'r1')) AS t(symbol, price, _reject_reason, _ingest_run)"
    )
    # Fetched on the day the quarantine files are written (a fixed day, not today's).
    fetched = "TIMESTAMPTZ '2026-12-05 12:00:00+00'"
    con.execute(f"ALTER TABLE bad ADD COLUMN _fetched_at TIMESTAMPTZ DEFAULT {fetched}")

    def deliver(run_id: str) -> Quarantined:
        return write_quarantine(
            con,
            store,
            dataset="quotes",
            source_sql="SELECT * FROM bad",
            run_id=run_id,
            day=date(2026, 12, 5),
            scratch=tmp_path,
            identity=("symbol", "price"),
        )

    first = deliver("c1")
    assert (first.rejected, first.repeats, first.written) == (2, 2, 2)
    again = deliver("c2")
    assert (again.rejected, again.repeats, again.written) == (2, 2, 0)
