"""Finding the raw lines a clean or rebuild reads: run objects, or the day archives they were
rolled into by compaction, always filtered to the ingest runs being cleaned."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from bucketpipe.formats.loading import EMBEDDED, FileRef
from bucketpipe.lake.duck import quote_literal, sql_list
from bucketpipe.lake.layout import RAW, raw_archive_key, raw_prefix
from bucketpipe.lake.raw import RAW_COLUMNS
from bucketpipe.lake.runs import RunManifest
from bucketpipe.lake.storage import ObjectStore

BUCKET_ENDPOINT = "file"


@dataclass(frozen=True)
class RawInput:
    """Raw objects to read (keys), the input ids whose lines count, and where each input's
    lines are (for lineage in quarantine)."""

    keys: tuple[str, ...]
    inputs: frozenset[str]
    files: tuple[tuple[str, str], ...] = ()

    def files_sql(self) -> str:
        """A relation (run, file) of where each input's lines were read from."""
        if not self.files:
            return "SELECT CAST(NULL AS VARCHAR) AS run, CAST(NULL AS VARCHAR) AS file LIMIT 0"
        values = ", ".join(f"({quote_literal(r)}, {quote_literal(f)})" for r, f in self.files)
        return f"SELECT * FROM (VALUES {values}) AS t(run, file)"


def is_run_object(key: str) -> bool:
    """`raw/<source>/dt=<day>/<name>.jsonl.gz` (not a landed file copy one level deeper)."""
    parts = key.split("/")
    return len(parts) == 4 and parts[0] == RAW and key.endswith(".jsonl.gz")


def archive_for(key: str) -> str:
    """The day archive a run object of that source and day is rolled into."""
    _, source, day, _ = key.split("/")
    return raw_archive_key(source, datetime.strptime(day, "dt=%Y-%m-%d").date())


def resolve(store: ObjectStore, manifests: Sequence[RunManifest]) -> RawInput:
    """The objects holding these runs' lines: each run's own object, else its day archive.

    A run whose lines are in neither (deleted by retention) contributes nothing.
    """
    keys: list[str] = []
    files: list[tuple[str, str]] = []
    exists: dict[str, bool] = {}
    for manifest in manifests:
        for key in manifest.outputs:
            if not is_run_object(key):
                continue
            for candidate in (key, archive_for(key)):
                if candidate not in exists:
                    exists[candidate] = store.head(candidate) is not None
                if exists[candidate]:
                    keys.append(candidate)
                    files.append((manifest.input_id, candidate))
                    break
    return RawInput(
        tuple(dict.fromkeys(keys)), frozenset(m.input_id for m in manifests), tuple(files)
    )


def everything(
    store: ObjectStore, inputs: Iterable[str], manifests: Sequence[RunManifest] = ()
) -> RawInput:
    """Every raw object in the lake (run objects and archives), for a rebuild."""
    keys = [info.key for info in store.list_objects(raw_prefix()) if is_run_object(info.key)]
    present = set(keys)
    files = []
    for manifest in manifests:
        for key in manifest.outputs:
            if is_run_object(key):
                found = key if key in present else archive_for(key)
                if found in present:
                    files.append((manifest.input_id, found))
    return RawInput(tuple(keys), frozenset(inputs), tuple(files))


def file_refs(con: duckdb.DuckDBPyConnection, view: str = "raw") -> list[FileRef]:
    """Landed files (bucket source) among the raw lines, oldest first.

    Embedded file contents go to the `_embedded` temp table (DuckDB spills it), not into
    Python; the loader fetches one file's bytes at a time.
    """
    landed = f"FROM {view} WHERE endpoint = '{BUCKET_ENDPOINT}' AND status = 200"
    content = "json_extract_string(body, '$.content')"
    con.execute(
        f"CREATE OR REPLACE TABLE {EMBEDDED} AS SELECT run, path, {content} AS content "
        f"{landed} AND {content} IS NOT NULL"
    )
    fields = ", ".join(
        f"'{name}', json_extract(body, '$.{name}')"
        for name in ("dataset", "uri", "copy", "read", "last_modified", "size")
    )
    rows = con.execute(
        f"SELECT run, path, requested_at, CAST(json_object({fields}) AS VARCHAR) "
        f"{landed} ORDER BY requested_at, run, path"
    ).fetchall()
    return [
        FileRef.from_raw(str(run), str(path), at, json.loads(body)) for run, path, at, body in rows
    ]


def runs_present(con: duckdb.DuckDBPyConnection, view: str = "raw") -> set[str]:
    """Input ids that still have raw lines (retention may have deleted older ones)."""
    return {str(r[0]) for r in con.execute(f"SELECT DISTINCT run FROM {view}").fetchall()}


def raw_view_sql(
    paths: Sequence[str],
    inputs: Iterable[str] | None = None,
    *,
    max_object_size: int = 67108864,
) -> str:
    """A view of raw lines from the given objects (only `inputs` when given: archives)."""
    columns = (
        "{"
        + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in RAW_COLUMNS.items())
        + "}"
    )
    sql = (
        f"SELECT * FROM read_json({sql_list(list(paths))}, format = 'newline_delimited', "
        f"columns = {columns}, maximum_object_size = {int(max_object_size)})"
    )
    if inputs is not None:
        sql += f" WHERE run IN ({', '.join(quote_literal(i) for i in inputs)})"
    return sql
