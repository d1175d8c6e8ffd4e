"""What must hold in a lake whatever happened to the jobs writing it (crashes, faults, races).

- every snapshot (`current.json` and each version document) references only existing files,
  and the current version has its version document;
- no primary key appears twice in any dataset;
- every committed ingest input is listed by at most one committed clean run (exactly one once
  the pending work is done);
- no raw object of a committed ingest run is lost (it is in its run object or in the day
  archive compaction rolled it into).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb

from bucketpipe import catalog
from bucketpipe.catalog.rules import load_config
from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.duck import quote_ident, sql_list
from bucketpipe.lake.layout import (
    SNAPSHOTS,
    raw_archive_key,
    snapshot_key,
    snapshot_version_of,
)
from bucketpipe.lake.runs import CLEAN_JOB, INGEST_JOB, RunLog, RunManifest
from bucketpipe.lake.snapshots import Snapshot, list_datasets, read_current
from bucketpipe.lake.storage import ObjectStore


@dataclass
class LakeState:
    """What the checks found: violations, plus figures worth printing."""

    violations: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    ingest_inputs: set[str] = field(default_factory=set)
    cleaned: Counter[str] = field(default_factory=Counter)

    @property
    def uncleaned(self) -> set[str]:
        return {i for i in self.ingest_inputs if self.cleaned[i] == 0}


def primary_key(dataset: str, columns: set[str]) -> tuple[str, ...]:
    """A dataset's key: the catalog's, else the generic rules' (`_row_hash` without one)."""
    try:
        return catalog.get(dataset).primary_key
    except KeyError:
        pass
    key = load_config(None, None).rules(dataset).key
    if key and set(key) <= columns:
        return tuple(key)
    return ("_row_hash",) if "_row_hash" in columns else ()


def check_snapshots(store: ObjectStore, dataset: str, state: LakeState) -> Snapshot | None:
    """Every version document and `current.json` reference existing files only."""
    keys = {info.key for info in store.list_objects(f"{SNAPSHOTS}/{dataset}/")}
    files = {info.key for info in store.list_objects(f"clean/{dataset}/")}
    current = read_current(store, dataset)
    documents: list[tuple[str, Snapshot]] = []
    if current is not None:
        documents.append((f"{dataset} current.json (v{current.version})", current))
        if snapshot_key(dataset, current.version) not in keys:
            state.violations.append(f"{dataset}: current v{current.version} has no version doc")
    for key in sorted(keys):
        if snapshot_version_of(key) is None:
            continue
        try:
            snap = Snapshot.model_validate_json(store.get(key))
        except ObjectNotFound:
            continue  # deleted since the listing (vacuum)
        except ValueError as exc:
            state.violations.append(f"{key} is not a valid snapshot: {exc}")
            continue
        documents.append((key, snap))
    for name, snap in documents:
        missing = [k for k in snap.keys if k not in files]
        if missing:
            state.violations.append(f"{name} references missing files {missing[:3]}")
    return current


def check_keys(
    con: duckdb.DuckDBPyConnection, store: ObjectStore, snap: Snapshot, state: LakeState
) -> None:
    """No primary key twice in the dataset's current snapshot."""
    if not snap.files:
        state.rows[snap.dataset] = 0
        return
    columns = {name for name, _ in snap.columns}
    key = primary_key(snap.dataset, columns)
    paths = sql_list([store.duckdb_path(f.key) for f in snap.files])
    source = f"read_parquet({paths}, union_by_name = true, hive_partitioning = false)"
    rows = con.execute(f"SELECT count(*) FROM {source}").fetchone()
    state.rows[snap.dataset] = int(rows[0]) if rows else 0
    if not key:
        return
    cols = ", ".join(quote_ident(c) for c in key)
    dupes = con.execute(
        f"SELECT {cols}, count(*) AS n FROM {source} GROUP BY ALL HAVING count(*) > 1 LIMIT 3"
    ).fetchall()
    if dupes:
        state.violations.append(f"{snap.dataset}: primary key {key} repeated, e.g. {dupes}")


def manifests(runlog: RunLog, job: str) -> list[RunManifest]:
    out = []
    for key in runlog.manifest_keys(job):
        try:
            out.append(RunManifest.model_validate_json(runlog.store.get(key)))
        except ObjectNotFound:
            continue
    return out


def check_runs(store: ObjectStore, state: LakeState) -> None:
    """Ingest inputs cleaned at most once; raw objects of committed ingest runs all there."""
    runlog = RunLog(store)
    listed: dict[str, set[str]] = {}
    for manifest in manifests(runlog, CLEAN_JOB):
        listed[manifest.run_id] = set(manifest.inputs)
    for entry in runlog.archived(CLEAN_JOB):
        listed.setdefault(str(entry["run_id"]), set()).update(entry.get("inputs", []))
    for inputs in listed.values():
        state.cleaned.update(inputs)
    archives: dict[str, set[str]] = {}
    for manifest in manifests(runlog, INGEST_JOB):
        state.ingest_inputs.add(manifest.input_id)
        for key in manifest.outputs:
            if store.head(key) is not None:
                continue
            if manifest.input_id not in archived_runs(store, key, archives):
                state.violations.append(f"raw object {key} of committed run is lost")
    state.ingest_inputs |= runlog.archived_ids(INGEST_JOB)
    twice = sorted(i for i, n in state.cleaned.items() if n > 1)
    if twice:
        state.violations.append(f"ingest inputs cleaned by several runs: {twice[:5]}")


def archived_runs(store: ObjectStore, run_key: str, cache: dict[str, set[str]]) -> set[str]:
    """Run ids in the day archive a raw run object is rolled into."""
    parts = run_key.split("/")
    if len(parts) != 4:
        return set()
    from datetime import date

    day = date.fromisoformat(parts[2].removeprefix("dt="))
    key = raw_archive_key(parts[1], day)
    if key not in cache:
        try:
            lines = gzip.decompress(store.get(key)).splitlines()
        except ObjectNotFound:
            lines = []
        cache[key] = {str(json.loads(line)["run"]) for line in lines if line.strip()}
    return cache[key]


def check_lake(store: ObjectStore, con: duckdb.DuckDBPyConnection) -> LakeState:
    """Every invariant above; `LakeState.violations` is empty when the lake is sound."""
    state = LakeState()
    for dataset in list_datasets(store):
        current = check_snapshots(store, dataset, state)
        if current is not None:
            check_keys(con, store, current, state)
    check_runs(store, state)
    return state


def dataset_rows(
    con: duckdb.DuckDBPyConnection, store: ObjectStore, *, ignore: tuple[str, ...] = ()
) -> dict[str, list[tuple[Any, ...]]]:
    """Every dataset's rows (sorted, without the columns named in `ignore`), to compare lakes."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for dataset in list_datasets(store):
        snap = read_current(store, dataset)
        if snap is None or not snap.files:
            continue
        names = [n for n, _ in snap.columns if n not in ignore]
        paths = sql_list([store.duckdb_path(f.key) for f in snap.files])
        cols = ", ".join(quote_ident(n) for n in names)
        rows = con.execute(
            f"SELECT {cols} FROM read_parquet({paths}, union_by_name = true, "
            "hive_partitioning = false) ORDER BY ALL"
        ).fetchall()
        out[dataset] = rows
    return out
