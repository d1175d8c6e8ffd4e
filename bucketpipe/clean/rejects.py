"""Writing a run's rejected rows to `quarantine/`, each rejected row once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from bucketpipe.clean.engine import content_hash, count
from bucketpipe.lake import quarantine
from bucketpipe.lake.duck import quote_ident, quote_literal, sql_list
from bucketpipe.lake.layout import partition_of, quarantine_key
from bucketpipe.lake.parquet import PARQUET_OPTIONS
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quarantined:
    """What a run rejected: distinct rejected rows of its input (`rejected`, per reason in
    `reasons`), of which `written` were new to quarantine and stored under `key`; `repeats`
    are the input's further copies of those rows."""

    key: str | None = None
    written: int = 0
    rejected: int = 0
    repeats: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def already(self) -> int:
        return self.rejected - self.written


REJECTED = "_q_rejected"


def write_quarantine(
    con: duckdb.DuckDBPyConnection,
    store: ObjectStore,
    *,
    dataset: str,
    source_sql: str,
    run_id: str,
    day: date,
    scratch: Path,
    identity: Sequence[str] = (),
    time_column: str | None = None,
    every_day: bool = False,
) -> Quarantined:
    """Write rejected rows (they carry `_reject_reason`) to `quarantine/`.

    With `identity` (the columns naming a row's content), a row is stored once per content and
    reason: repeats in this input (overlapping ingest runs) and rows already in quarantine (a
    re-ingest, a rebuild reading the same raw objects) are counted, not stored again.

    Only quarantine files of clean days from the rows' earliest event day (`time_column`, else
    the fetch day) on are compared: a row is quarantined no earlier than it happened, so an
    ordinary run reads today's files, and a re-ingest of old days the days since. With
    `every_day` (rows with no event time, as in generic files) every quarantine file is compared.
    """
    delivered = count(con, source_sql)
    if delivered == 0:
        return Quarantined()
    hashed = [c for c in identity if c != "_reject_reason"]
    if hashed:
        digest = content_hash([*hashed, "_reject_reason"])
        con.execute(
            f"CREATE OR REPLACE TABLE {REJECTED} AS SELECT *, {digest} AS _q_hash "
            f"FROM ({source_sql}) QUALIFY row_number() OVER (PARTITION BY _q_hash "
            "ORDER BY _ingest_run NULLS LAST) = 1"
        )
        since = "" if every_day else _earliest_day(con, time_column)
        seen = _quarantined_hashes(con, store, dataset, digest, since)
        fresh = f"SELECT * EXCLUDE (_q_hash) FROM {REJECTED} ANTI JOIN ({seen}) USING (_q_hash)"
    else:
        con.execute(f"CREATE OR REPLACE TABLE {REJECTED} AS {source_sql}")
        fresh = f"SELECT * FROM {REJECTED}"
    reasons = {
        str(r): int(n)
        for r, n in con.execute(
            f"SELECT _reject_reason, count(*) FROM {REJECTED} GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
    }
    rejected = sum(reasons.values())
    outcome = Quarantined(rejected=rejected, repeats=delivered - rejected, reasons=reasons)
    written = count(con, fresh)
    if written == 0:
        return outcome
    path = scratch / f"quarantine-{dataset}.parquet"
    con.execute(f"COPY ({fresh}) TO {quote_literal(str(path))} ({PARQUET_OPTIONS})")
    key = quarantine_key(dataset, day, run_id)
    store.upload(key, path, content_type="application/vnd.apache.parquet")
    path.unlink(missing_ok=True)
    return Quarantined(key, written, rejected, outcome.repeats, reasons)


def _earliest_day(con: duckdb.DuckDBPyConnection, time_column: str | None) -> str:
    """The earliest UTC day any rejected row can have been quarantined on ('' when unknown)."""
    fetched = "CAST(_fetched_at AS DATE)"
    day = (
        f"coalesce(CAST({quote_ident(time_column)} AS DATE), {fetched})" if time_column else fetched
    )
    try:
        row = con.execute(f"SELECT CAST(min({day}) AS VARCHAR) FROM {REJECTED}").fetchone()
    except duckdb.Error:
        return ""
    return str(row[0]) if row and row[0] else ""


def _quarantined_hashes(
    con: duckdb.DuckDBPyConnection, store: ObjectStore, dataset: str, digest: str, since: str
) -> str:
    """SQL of the `_q_hash` of rows in the dataset's quarantine files of days from `since`
    (none when unreadable: a file from before a column was added cannot say, and storing a
    row twice is harmless)."""
    empty = "SELECT CAST(NULL AS VARCHAR) AS _q_hash WHERE false"
    keys = [k for k in quarantine.file_keys(store, dataset) if (partition_of(k) or "9999") >= since]
    if not keys:
        return empty
    files = sql_list([store.duckdb_path(k) for k in keys])
    sql = (
        f"SELECT DISTINCT {digest} AS _q_hash FROM read_parquet({files}, union_by_name = true, "
        "hive_partitioning = false)"
    )
    try:
        con.execute(f"CREATE OR REPLACE TABLE _q_seen AS {sql}")
    except duckdb.Error as exc:
        log.warning(
            "quarantine not compared",
            extra={"dataset": dataset, "error": str(exc).splitlines()[0][:200]},
        )
        return empty
    return "SELECT _q_hash FROM _q_seen"
