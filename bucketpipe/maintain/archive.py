"""Rolling many small objects of a closed day into one: raw run objects, quality reports.

Raw: the run objects of a day (`raw/<source>/dt=<day>/<run>.jsonl.gz`) are appended, as gzip
members, to the day's `_archive.jsonl.gz`, then deleted. Only runs clean has consumed are
archived (the others are still read by their own key); a run already in the archive (a crash
between the archive write and the deletes) is not appended twice. Lines keep their `run`, so
clean and rebuild read an archive filtered by run.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO

import duckdb

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.duck import quote_literal
from bucketpipe.lake.layout import (
    last_part,
    quality_report_archive_key,
    quality_reports_prefix,
    raw_archive_key,
    raw_prefix,
)
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)


@dataclass
class ArchiveOutcome:
    """What rolling did: objects folded in, objects deleted, archives written."""

    folded: int = 0
    deleted: int = 0
    archives: list[str] = field(default_factory=list)
    waiting: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "folded": self.folded,
            "deleted": self.deleted,
            "archives": len(self.archives),
            "waiting": self.waiting,
        }


def day_of(prefix_dir: str) -> date | None:
    """The day of a `.../dt=YYYY-MM-DD/` folder."""
    name = last_part(prefix_dir)
    try:
        return datetime.strptime(name, "dt=%Y-%m-%d").date()
    except ValueError:
        return None


def archived_runs(con: duckdb.DuckDBPyConnection, path: str, max_object: int) -> set[str]:
    rows = con.execute(
        f"SELECT DISTINCT run FROM read_json({quote_literal(path)}, "
        "format = 'newline_delimited', columns = {'run': 'VARCHAR'}, "
        f"maximum_object_size = {int(max_object)})"
    ).fetchall()
    return {str(r[0]) for r in rows}


def archive_raw_day(
    store: ObjectStore,
    con: duckdb.DuckDBPyConnection,
    source: str,
    day: date,
    *,
    consumed: set[str],
    committed: set[str],
    orphan_before: datetime,
    scratch: Path,
    max_object: int = 64 * 1024 * 1024,
) -> ArchiveOutcome:
    """Roll one closed day of one source; delete uncommitted run objects past the grace."""
    outcome = ArchiveOutcome()
    prefix = raw_prefix(source, day)
    archive_key = raw_archive_key(source, day)
    runs: list[tuple[str, str]] = []
    orphans: list[str] = []
    for info in store.list_objects(prefix):
        parts = info.key[len(prefix) :].split("/")
        run = parts[0].removesuffix(".jsonl.gz")
        if info.key == archive_key:
            continue
        if len(parts) == 1 and parts[0].endswith(".jsonl.gz"):
            if run in consumed:
                runs.append((run, info.key))
            elif run not in committed and info.last_modified < orphan_before:
                orphans.append(info.key)
            else:
                outcome.waiting += 1
        elif len(parts) == 2 and run not in committed and info.last_modified < orphan_before:
            orphans.append(info.key)  # a landed copy of a run that never committed
    if orphans:
        outcome.deleted += store.delete(orphans)
        log.warning("deleted raw objects of uncommitted runs", extra={"objects": len(orphans)})
    if not runs:
        return outcome
    path = scratch / "archive.jsonl.gz"
    present: set[str] = set()
    with path.open("wb") as out:
        if store.head(archive_key) is not None:
            present = archived_runs(con, store.duckdb_path(archive_key), max_object)
            _copy(store, archive_key, out)
        for run, key in runs:
            if run not in present:
                _copy(store, key, out)
                outcome.folded += 1
    store.upload(archive_key, path, content_type="application/gzip")
    path.unlink(missing_ok=True)
    outcome.deleted += store.delete(key for _, key in runs)
    outcome.archives.append(archive_key)
    return outcome


def _copy(store: ObjectStore, key: str, out: IO[bytes]) -> None:
    with store.open(key) as stream:
        shutil.copyfileobj(stream, out, 8 * 1024 * 1024)


def archive_raw(
    store: ObjectStore,
    con: duckdb.DuckDBPyConnection,
    *,
    today: date,
    consumed: set[str],
    committed: set[str],
    orphan_before: datetime,
    scratch: Path,
    max_object: int = 64 * 1024 * 1024,
) -> ArchiveOutcome:
    """Roll every closed day (before `today`) of every source."""
    total = ArchiveOutcome()
    for source_dir in store.list_dirs(raw_prefix()):
        source = last_part(source_dir)
        for day_dir in store.list_dirs(source_dir):
            day = day_of(day_dir)
            if day is None or day >= today:
                continue
            part = archive_raw_day(
                store,
                con,
                source,
                day,
                consumed=consumed,
                committed=committed,
                orphan_before=orphan_before,
                scratch=scratch,
                max_object=max_object,
            )
            total.folded += part.folded
            total.deleted += part.deleted
            total.waiting += part.waiting
            total.archives += part.archives
    return total


# --- quality reports ----------------------------------------------------------------------
def report_datasets(store: ObjectStore) -> list[str]:
    """Datasets with a per-run report folder (not the `_archive` of the day archives)."""
    names = [last_part(d) for d in store.list_dirs(quality_reports_prefix())]
    return [n for n in names if not n.startswith("_")]


def _read_lines(store: ObjectStore, key: str) -> dict[tuple[str, str], str]:
    """(dataset, run id) -> JSON line of an existing day archive."""
    try:
        lines = gzip.decompress(store.get(key)).splitlines()
    except ObjectNotFound:
        return {}
    out = {}
    for line in lines:
        if line.strip():
            data = json.loads(line)
            out[(str(data["dataset"]), str(data["run_id"]))] = line.decode()
    return out


def fold_reports(
    store: ObjectStore,
    *,
    today: date,
    committed: set[str],
    orphan_before: datetime,
) -> ArchiveOutcome:
    """Fold per-run reports of closed days into one archive per day (all datasets).

    Reports of clean runs that never committed are deleted once past the grace period.
    """
    total = ArchiveOutcome()
    by_day: dict[date, list[tuple[str, bytes]]] = {}
    orphans: list[str] = []
    for dataset in report_datasets(store):
        for info in store.list_objects(quality_reports_prefix(dataset)):
            run = last_part(info.key).removesuffix(".json")
            if not info.key.endswith(".json"):
                continue
            if run not in committed:
                if info.last_modified < orphan_before:
                    orphans.append(info.key)
                continue
            body = store.get(info.key)
            created = datetime.fromisoformat(json.loads(body)["created_at"]).date()
            if created < today:
                by_day.setdefault(created, []).append((info.key, body))
    total.deleted += store.delete(orphans)
    for day, items in sorted(by_day.items()):
        key = quality_report_archive_key(day)
        lines = _read_lines(store, key)
        for _, body in items:
            data = json.loads(body)
            lines[(str(data["dataset"]), str(data["run_id"]))] = json.dumps(data, sort_keys=True)
        text = "\n".join(lines[k] for k in sorted(lines)) + "\n"
        store.put(key, gzip.compress(text.encode()), "application/gzip")
        total.folded += len(items)
        total.deleted += store.delete(k for k, _ in items)
        total.archives.append(key)
    return total


def older_than(days: int, now: datetime) -> date:
    """The first day that is still kept when keeping `days` days."""
    return (now - timedelta(days=days)).date()


def delete_keys(store: ObjectStore, keys: Iterable[str]) -> int:
    return store.delete(list(keys))
