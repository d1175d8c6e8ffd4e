"""Reading quarantine: rejected rows with their dataset, reason, source file and runs.

Files live at `quarantine/<dataset>/dt=<day>/<clean run>.parquet`; compaction rolls a closed
day into `_day-<compaction run>.parquet`. Every row carries `_clean_run`, and a run's rows are
read from one file only (a day file wins over the run's own file, a newer day file over an
older one), so a reader never counts a row twice, even while compaction is half done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from bucketpipe.lake.duck import quote_ident, quote_literal, sql_list
from bucketpipe.lake.layout import QUARANTINE_DAY_PREFIX, last_part, partition_of, quarantine_prefix
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

DAY_FILE_PREFIX = QUARANTINE_DAY_PREFIX


@dataclass(frozen=True)
class QuarantineSummary:
    """One dataset's quarantine: rows, days and the count per reason."""

    dataset: str
    rows: int
    files: int
    first_day: date | None
    last_day: date | None
    last_run: str | None
    reasons: dict[str, int] = field(default_factory=dict)


def datasets(store: ObjectStore) -> list[str]:
    """Datasets that have quarantine files."""
    return sorted(last_part(d) for d in store.list_dirs(quarantine_prefix()))


def file_keys(store: ObjectStore, dataset: str) -> list[str]:
    return [
        info.key
        for info in store.list_objects(quarantine_prefix(dataset))
        if info.key.endswith(".parquet")
    ]


def relation_sql(paths: list[str]) -> str:
    """The rows of these quarantine files, each run's rows taken from one file only."""
    rank = (
        f"(CASE WHEN starts_with(_file, {quote_literal(DAY_FILE_PREFIX)}) THEN '1' ELSE '0' END "
        "|| _file)"
    )
    return (
        "WITH q AS (SELECT *, parse_filename(filename) AS _file FROM read_parquet("
        f"{sql_list(paths)}, union_by_name = true, filename = true, hive_partitioning = false)), "
        f"own AS (SELECT _clean_run, max({rank}) AS _pick FROM q GROUP BY _clean_run) "
        f"SELECT q.* EXCLUDE (filename, _file) FROM q JOIN own USING (_clean_run) "
        f"WHERE {rank} = own._pick"
    )


def summary(store: ObjectStore, con: duckdb.DuckDBPyConnection) -> list[QuarantineSummary]:
    """Every dataset's quarantine at a glance (for the dashboard and `status`)."""
    out = []
    for dataset in datasets(store):
        keys = file_keys(store, dataset)
        if not keys:
            continue
        paths = [store.duckdb_path(k) for k in keys]
        rows = con.execute(
            f"SELECT coalesce(_reject_reason, '(no reason)'), count(*), max(_clean_run) "
            f"FROM ({relation_sql(paths)}) GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        days = sorted(d for k in keys if (d := partition_of(k)))
        out.append(
            QuarantineSummary(
                dataset=dataset,
                rows=sum(int(n) for _, n, _ in rows),
                files=len(keys),
                first_day=date.fromisoformat(days[0]) if days else None,
                last_day=date.fromisoformat(days[-1]) if days else None,
                last_run=max((str(r) for _, _, r in rows if r), default=None),
                reasons={str(reason): int(n) for reason, n, _ in rows},
            )
        )
    return out


def sample(
    store: ObjectStore,
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    limit: int = 100,
    *,
    reason: str | None = None,
) -> pd.DataFrame:
    """Up to `limit` rejected rows of a dataset, newest runs first (optionally one reason)."""
    keys = file_keys(store, dataset)
    if not keys:
        return pd.DataFrame()
    paths = [store.duckdb_path(k) for k in keys]
    where = f"WHERE _reject_reason = {quote_literal(reason)}" if reason else ""
    order = quote_ident("_clean_run")
    table = con.execute(
        f"SELECT * FROM ({relation_sql(paths)}) {where} ORDER BY {order} DESC LIMIT $1",
        [max(int(limit), 0)],
    ).to_arrow_table()
    # Through Arrow: DuckDB's own pandas conversion warns under pandas 3.
    frame: pd.DataFrame = table.to_pandas()
    return frame
