"""Small committed datasets for reader tests, and a clock the test moves by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry, commit
from bucketpipe.lake.storage import ObjectStore


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def add_rows(store: ObjectStore, work: Path, dataset: str, values: list[int], run: str) -> None:
    """Commit one Parquet file with column `n` to the dataset."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{dataset}-{run}.parquet"
    rows = ", ".join(f"({v})" for v in values)
    duckdb.execute(f"COPY (SELECT * FROM (VALUES {rows}) AS t(n)) TO '{path}' (FORMAT parquet)")
    key = clean_key(dataset, "2026-01-01", run)
    store.upload(key, path)
    commit(store, dataset, run_id=run, add=[FileEntry(key=key, rows=len(values))])
