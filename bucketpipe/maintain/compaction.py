"""Compaction: few large files per closed partition, day archives of small objects, vacuum.

`bucketpipe compact` (daily) holds the same writer lock as clean and, in order: rewrites every
closed partition (its period ended) not yet in its layout (several files clean wrote, or one
big one with clean's small row groups), and every open partition that has more than
`OPEN_PARTITION_FILES` or a big file clean wrote (a backfill), into files of about
`compact_target_mb`, sorted by event time (or the dataset's `cluster_by`), with large row
groups, swapping them in with one snapshot commit per dataset (files in the folders of a finer
grain, left by a dataset that moved to coarser partitions, move into their period's partition
then); rolls each closed day's quarantine files
into one; rolls raw run objects and per-run quality reports of closed days into day archives;
applies retention; and vacuums files and snapshot versions no reader can still hold.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from bucketpipe import catalog
from bucketpipe.catalog.rules import load_config
from bucketpipe.context import Context
from bucketpipe.coord.signals import COMPACT_COMMITTED, Event
from bucketpipe.lake import delta, quarantine
from bucketpipe.lake.census import take_census
from bucketpipe.lake.commits import Basis, VersionTaken, commit
from bucketpipe.lake.duck import connect, quote_ident, quote_literal, sql_list
from bucketpipe.lake.index import prune_index
from bucketpipe.lake.layout import (
    CLEAN_CONSUMED_KEY,
    clean_key,
    quarantine_day_key,
    quarantine_prefix,
)
from bucketpipe.lake.memory import max_json_object
from bucketpipe.lake.parquet import CLEAN_ROW_GROUP, CLUSTERED_ROW_GROUP, file_entry
from bucketpipe.lake.runs import CLEAN_JOB, COMPACT_JOB, INGEST_JOB, RunManifest
from bucketpipe.lake.snapshots import (
    FileEntry,
    Snapshot,
    list_datasets,
    period_start,
    read_current,
)
from bucketpipe.lake.storage import scratch_dir
from bucketpipe.maintain import archive, retention
from bucketpipe.maintain.vacuum import vacuum

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = 1_000_000
# The end of the keys `rewrite_partition` writes (`compacted_name`), to tell its files apart.
COMPACTED_KEY = re.compile(r"-c\d+-\d+\.parquet$")


def compacted_name(run_id: str, version: int, index: int) -> str:
    return f"{run_id}-c{version}-{index}"


# The largest row group compaction writes, in DuckDB's estimate of its size in memory (about
# five times its size on disk): a quarter of quotes at 500 symbols (880,000 rows) is one or two
# row groups, and a year-long query on S3 pays a request per row group and column run.
ROW_GROUP_MAX_MB = 256
# An open partition is rewritten once it holds more files than this.
OPEN_PARTITION_FILES = 8


@dataclass
class DatasetCompaction:
    """What compaction did to one dataset."""

    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    version: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def period_end(partition: str, grain: str) -> date:
    """The first day after the period a partition covers (day, month, quarter or year)."""
    start = date.fromisoformat(partition)
    if grain == "year":
        return date(start.year + 1, 1, 1)
    months = {"month": 1, "quarter": 3}.get(grain)
    if months:
        index = start.year * 12 + start.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)
    return start + timedelta(days=1)


def periods(snapshot: Snapshot, grain: str) -> dict[str, list[FileEntry]]:
    """The dataset's files by the `grain` partition they belong to (a day partition written
    before the dataset moved to month partitions belongs to its month)."""
    groups: dict[str, list[FileEntry]] = {}
    for entry in snapshot.files:
        if entry.partition:
            groups.setdefault(period_start(entry.partition, grain), []).append(entry)
    return dict(sorted(groups.items()))


def closed_partitions(snapshot: Snapshot, grain: str, today: date) -> dict[str, list[FileEntry]]:
    """Partitions whose period has ended and whose files are not in compaction's layout yet
    (`unsettled`); files still in the folders of a finer grain move into their period's
    partition."""
    return {
        p: files
        for p, files in periods(snapshot, grain).items()
        if period_end(p, grain) <= today and unsettled(p, files)
    }


def unsettled(partition: str, files: list[FileEntry]) -> bool:
    """Whether a closed partition's files are not yet in compaction's layout: some sit in
    another partition's folder, or clean wrote them and there are several, or one big one.
    A big file clean left alone (a backfill or a rebuild writes one per partition) holds row
    groups of `CLEAN_ROW_GROUP` rows; rewritten once into compaction's large ones, a year-long
    query reads a few row groups per month instead of dozens (each a request on S3). Files
    compaction wrote stay as they are, also when a large partition was split into several."""
    if any(f.partition != partition for f in files):
        return True
    if all(COMPACTED_KEY.search(f.key) for f in files):
        return False
    return len(files) > 1 or files[0].rows > CLEAN_ROW_GROUP


def open_partitions(snapshot: Snapshot, grain: str, today: date) -> dict[str, list[FileEntry]]:
    """Partitions still open (their period has not ended) that hold more than
    `OPEN_PARTITION_FILES` files, or a big file clean wrote: a month, quarter or year
    partition gains a file a day or so, and waiting for its end would leave readers opening
    hundreds of them; a backfill's file of the open period holds row groups of
    `CLEAN_ROW_GROUP` rows, each a request more for a query that reads the whole period."""
    return {
        p: files
        for p, files in periods(snapshot, grain).items()
        if period_end(p, grain) > today
        and (len(files) > OPEN_PARTITION_FILES or any(_big_clean_file(f) for f in files))
    }


def _big_clean_file(entry: FileEntry) -> bool:
    return entry.rows > CLEAN_ROW_GROUP and not COMPACTED_KEY.search(entry.key)


@dataclass(frozen=True)
class Layout:
    """How a dataset's files are cut and ordered."""

    grain: str
    time_column: str | None
    sort: tuple[str, ...]


def dataset_layout(ctx: Context, name: str, columns: tuple[tuple[str, str], ...]) -> Layout:
    """Partition grain, event-time column and sort order of a dataset: from the catalog, else
    the clean config of a generic dataset (its `time_column`, else the landing time)."""
    try:
        spec = catalog.get(name)
        return Layout(spec.partition_by, spec.time_column, spec.sort_columns)
    except KeyError:
        pass
    names = {c for c, _ in columns}
    config = load_config(ctx.settings.clean_config, ctx.settings.source_mapping)
    wanted = config.rules(name).time_column or "_fetched_at"
    time_column = wanted if wanted in names else None
    return Layout("day", time_column, (time_column,) if time_column else ())


def rewrite_partition(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    dataset: str,
    partition: str,
    files: list[FileEntry],
    *,
    layout: Layout,
    run_id: str,
    version: int,
    scratch: Path,
) -> list[FileEntry]:
    """Write the partition's rows as files of about the target size; their entries."""
    out = scratch / f"{dataset}-{partition}"
    shutil.rmtree(out, ignore_errors=True)
    paths = sql_list([ctx.store.duckdb_path(f.key) for f in files])
    order = ""
    if layout.sort:
        order = " ORDER BY " + ", ".join(quote_ident(c) for c in layout.sort)
    target_mb = ctx.settings.compact_target_mb
    # Files split only between row groups: keep a row group at most half a file on disk (in
    # memory it takes about four times its compressed size, or more).
    group_mb = max(1, min(ROW_GROUP_MAX_MB, target_mb * 2))
    # A clustered dataset (sorted by something other than time) keeps small row groups: their
    # statistics are what lets a query for one symbol skip the others.
    clustered = bool(layout.sort) and layout.sort != (layout.time_column,)
    group_rows = CLUSTERED_ROW_GROUP if clustered else ROW_GROUP_ROWS
    con.execute(
        f"COPY (SELECT * FROM read_parquet({paths}, union_by_name = true, "
        f"hive_partitioning = false){order}) TO {quote_literal(str(out))} "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {group_rows}, "
        f"ROW_GROUP_SIZE_BYTES '{group_mb}MB', FILE_SIZE_BYTES '{target_mb}MB')"
    )
    entries = []
    for index, path in enumerate(sorted(out.glob("*.parquet"))):
        key = clean_key(dataset, partition, compacted_name(run_id, version, index))
        entry = file_entry(con, path, key, partition, layout.time_column, run_id)
        if entry.rows:
            ctx.store.upload(key, path, content_type="application/vnd.apache.parquet")
            entries.append(entry)
    shutil.rmtree(out, ignore_errors=True)
    return entries


def compact_dataset(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    dataset: str,
    *,
    today: date,
    run_id: str,
    scratch: Path,
) -> DatasetCompaction:
    """Rewrite the dataset's closed multi-file partitions and commit them in one version."""
    result = DatasetCompaction()
    snapshot = read_current(ctx.store, dataset)
    if snapshot is None:
        return result
    layout = dataset_layout(ctx, dataset, snapshot.columns)
    todo = closed_partitions(snapshot, layout.grain, today)
    todo |= open_partitions(snapshot, layout.grain, today)
    if not todo:
        return result
    added: list[FileEntry] = []
    removed: list[str] = []
    for partition, files in todo.items():
        new = rewrite_partition(
            con,
            ctx,
            dataset,
            partition,
            files,
            layout=layout,
            run_id=run_id,
            version=snapshot.version + 1,
            scratch=scratch,
        )
        if sum(e.rows for e in new) != sum(f.rows for f in files):
            raise RuntimeError(f"{dataset} {partition}: compaction changed the row count")
        added += new
        removed += [f.key for f in files]
        result.partitions += 1
        result.files_before += len(files)
        result.files_after += len(new)
    # Same rows in other files: on a version committed meanwhile, the same change still
    # applies as long as the files it replaces are all still there (a rebase).
    committed = commit(
        ctx.store,
        dataset,
        run_id=run_id,
        add=added,
        remove=removed,
        time_column=layout.time_column,
        operation="compact",
        basis=Basis(snapshot),
        rebase=True,
        details={"partitions": result.partitions, "files_removed": len(removed)},
        now=ctx.now(),
    )
    result.version = committed.version
    return result


def compact_quarantine(
    con: duckdb.DuckDBPyConnection, ctx: Context, *, today: date, run_id: str, scratch: Path
) -> dict[str, int]:
    """Roll each closed day's quarantine files of each dataset into one day file."""
    counts: dict[str, int] = {}
    for dataset in quarantine.datasets(ctx.store):
        for day_dir in ctx.store.list_dirs(quarantine_prefix(dataset)):
            day = archive.day_of(day_dir)
            keys = [i.key for i in ctx.store.list_objects(day_dir) if i.key.endswith(".parquet")]
            if day is None or day >= today or len(keys) < 2:
                continue
            path = scratch / f"q-{dataset}-{day}.parquet"
            source = quarantine.relation_sql([ctx.store.duckdb_path(k) for k in keys])
            con.execute(
                f"COPY ({source}) TO {quote_literal(str(path))} (FORMAT parquet, COMPRESSION zstd)"
            )
            key = quarantine_day_key(dataset, day, run_id)
            ctx.store.upload(key, path, content_type="application/vnd.apache.parquet")
            path.unlink(missing_ok=True)
            ctx.store.delete(k for k in keys if k != key)
            counts[dataset] = counts.get(dataset, 0) + len(keys)
    return counts


def run_compaction(ctx: Context, *, run_id: str, wait_seconds: float = 0.0) -> RunManifest:
    """One compaction run under the writer lock; its manifest is `_runs/compact/<run>.json`."""
    started = ctx.now()
    today = started.astimezone(UTC).date()
    grace = timedelta(hours=ctx.settings.vacuum_grace_hours)
    details: dict[str, Any] = {}
    # Rolling archives and retention rewrite and delete objects with no compare-and-swap to
    # protect them: compaction holds the lake's own lock too, whether Redis is there or not.
    with ctx.writer_lock(wait_seconds=wait_seconds, lake_too=True) as lock:
        scratch = scratch_dir(ctx.settings.temp_dir)
        con = connect(ctx.settings)
        try:
            datasets: dict[str, Any] = {}
            for name in list_datasets(ctx.store):
                try:
                    done = compact_dataset(
                        con, ctx, name, today=today, run_id=run_id, scratch=scratch
                    )
                except VersionTaken:
                    # Another writer rewrote some of the same files: the next compaction
                    # plans again (what this one uploaded is vacuumed later).
                    log.info("dataset changed while compacted; left", extra={"dataset": name})
                    continue
                if done.partitions:
                    datasets[name] = done.__dict__
            details["datasets"] = datasets
            details["quarantine"] = compact_quarantine(
                con, ctx, today=today, run_id=run_id, scratch=scratch
            )
            consumed = ctx.runlog.consumed(CLEAN_JOB, cache_key=CLEAN_CONSUMED_KEY)
            committed = set(ctx.runlog.ids(INGEST_JOB))
            details["raw"] = archive.archive_raw(
                ctx.store,
                con,
                today=today,
                consumed=consumed & committed,
                committed=committed,
                orphan_before=started - grace,
                scratch=scratch,
                max_object=max_json_object(ctx.settings.duckdb_memory_limit),
            ).as_dict()
            details["reports"] = archive.fold_reports(
                ctx.store,
                today=today,
                committed=set(ctx.runlog.ids(CLEAN_JOB)),
                orphan_before=started - grace,
            ).as_dict()
            details["retention"] = retention.apply(ctx, now=started, consumed=consumed)
        finally:
            con.close()
            shutil.rmtree(scratch, ignore_errors=True)
        details["vacuum"] = {
            name: vacuum(
                ctx.store,
                name,
                grace=grace,
                now=ctx.now(),
                keep_versions=ctx.settings.vacuum_keep_versions,
            )
            for name in list_datasets(ctx.store)
        }
        prune_index(ctx.store, details["vacuum"])
        details["lock"] = lock.kind
        manifest = RunManifest(
            job=COMPACT_JOB,
            run_id=run_id,
            started_at=started,
            finished_at=ctx.now(),
            redis=ctx.signals.state,
            details=details,
        )
        key = ctx.runlog.write(manifest)
        policy = delta.Policy.from_settings(ctx.settings)
        delta.sync_lake(ctx.store, policy, expire_before=ctx.now() - grace)
        # After retention and vacuum the lake is at its smallest: count it exactly once a day.
        census = take_census(ctx.store, ctx.now())
    changed = tuple(details["datasets"])
    for name in changed:
        ctx.signals.bump_version(name)
    ctx.signals.publish(
        Event(
            kind=COMPACT_COMMITTED, run_id=run_id, job=COMPACT_JOB, manifest=key, datasets=changed
        )
    )
    ctx.publish_status(COMPACT_JOB, manifest)
    log.info(
        "compaction committed",
        extra={
            "run_id": run_id,
            "datasets": len(changed),
            "duration_s": manifest.duration_s,
            "lake_objects": census.total,
        },
    )
    return manifest
