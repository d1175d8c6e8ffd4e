"""Small files between compactions: a commit rewrites its partitions' small files with its rows.

A committed file under `BUCKETPIPE_CLEAN_SMALL_FILE_MB` (8) in a partition a commit writes to
is rewritten with the commit's rows of that partition, and removed by the same version: between
two compactions a partition holds its compacted files and one small file, not one file per
clean run. A reader opens each file a page needs (on S3 a HEAD and a GET): with a 15-minute
clean, the stock page's reads grew by about ten a run until the daily `bucketpipe compact`.
Bigger files are left to the compaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import duckdb

from bucketpipe.lake.duck import quote_ident, sql_list
from bucketpipe.lake.snapshots import FileEntry
from bucketpipe.lake.storage import ObjectStore


@dataclass(frozen=True)
class SmallFiles:
    """The rows of the small files a commit rewrites: their SQL, number and file keys."""

    sql: str
    rows: int
    keys: list[str]


def small_files(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    near: Sequence[FileEntry],
    columns: Sequence[tuple[str, str]],
    removed: Collection[str],
    limit: int,
) -> SmallFiles | None:
    """Of the committed files of the partitions a commit writes (`near`), the small ones it
    rewrites (each removed by the commit, its rows copied whole); None when there are none.
    `limit` is the size in bytes under which a file is small (0: none is).

    A file holding a row the commit replaces is rewritten already (in `removed`); any other
    file of the batch's partitions holds none of its changed keys, so copying it whole keeps
    every row once. A file with a column the batch lacks (a dropped column) stays as it is.
    """
    small = [f for f in near if f.key not in removed and 0 < f.bytes < limit]
    if not small:
        return None
    files = sql_list([store.duckdb_path(f.key) for f in small])
    source = f"read_parquet({files}, union_by_name = true, hive_partitioning = false)"
    held = {str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    if not held <= {c for c, _ in columns}:
        return None
    select = ", ".join(
        quote_ident(c) if c in held else f"CAST(NULL AS {t}) AS {quote_ident(c)}"
        for c, t in columns
    )
    return SmallFiles(
        f"SELECT {select} FROM {source}", sum(f.rows for f in small), [f.key for f in small]
    )
