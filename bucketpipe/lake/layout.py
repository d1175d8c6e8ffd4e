"""The lake layout: every key Bucketpipe writes, built and parsed in one place."""

from __future__ import annotations

import re
from datetime import date

from bucketpipe.config.errors import ConfigError

RAW = "raw"
CLEAN = "clean"
QUARANTINE = "quarantine"
SNAPSHOTS = "_snapshots"
RUNS = "_runs"
STATE = "_state"
REPORTS = "reports"
LOCKS = "_locks"

AREAS = (RAW, CLEAN, QUARANTINE, SNAPSHOTS, RUNS, STATE, REPORTS)
# The lake's own dataset: every quality report is also a row of it (bucketpipe.quality.report).
REPORTS_DATASET = "quality_reports"
# Compaction's roll-up of a closed day's quarantine files (`_day-<compaction run>.parquet`).
QUARANTINE_DAY_PREFIX = "_day-"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PARTITION = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


def check_name(name: str, what: str = "dataset") -> str:
    """A dataset, source or job name: lower-case snake_case, safe in keys and SQL."""
    if not _NAME.match(name):
        raise ConfigError(f"invalid {what} name {name!r}: use lower-case letters, digits and _")
    return name


def check_run_id(run_id: str) -> str:
    """A run id: letters, digits, `.`, `_` and `-` (Kubernetes Job names fit)."""
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"invalid run id {run_id!r}: use letters, digits, '.', '_' and '-'")
    return run_id


def input_id(run_id: str, shard: int | None = None) -> str:
    """The id of one committed ingest input: the run id, plus the shard index if sharded."""
    return run_id if shard is None else f"{run_id}-{shard}"


def raw_key(source: str, day: date, run_id: str, shard: int | None = None) -> str:
    """`raw/<source>/dt=YYYY-MM-DD/<run_id>[-<shard>].jsonl.gz`."""
    name = f"{input_id(run_id, shard)}.jsonl.gz"
    return f"{RAW}/{check_name(source, 'source')}/dt={day.isoformat()}/{name}"


def raw_prefix(source: str | None = None, day: date | None = None) -> str:
    """`raw/`, `raw/<source>/` or `raw/<source>/dt=YYYY-MM-DD/`."""
    if source is None:
        return f"{RAW}/"
    if day is None:
        return f"{RAW}/{check_name(source, 'source')}/"
    return f"{RAW}/{check_name(source, 'source')}/dt={day.isoformat()}/"


def raw_file_key(source: str, day: str, run_id: str, index: int, ext: str) -> str:
    """`raw/<source>/dt=YYYY-MM-DD/<run_id>/<n>.<ext>`: the copy of one landed source file."""
    return f"{RAW}/{check_name(source, 'source')}/dt={_day(day)}/{run_id}/{index:05d}.{ext}"


def raw_archive_key(source: str, day: date) -> str:
    """The day's raw objects rolled into one archive by compaction."""
    return f"{RAW}/{check_name(source, 'source')}/dt={day.isoformat()}/_archive.jsonl.gz"


def clean_key(dataset: str, day: date | str, file_id: str) -> str:
    """`clean/<dataset>/dt=YYYY-MM-DD/<file-id>.parquet`."""
    return f"{CLEAN}/{check_name(dataset)}/dt={_day(day)}/{file_id}.parquet"


def clean_prefix(dataset: str) -> str:
    """`clean/<dataset>/`: every data file of a dataset, committed or not."""
    return f"{CLEAN}/{check_name(dataset)}/"


def quarantine_key(dataset: str, day: date | str, run_id: str) -> str:
    """`quarantine/<dataset>/dt=YYYY-MM-DD/<run_id>.parquet`."""
    return f"{QUARANTINE}/{check_name(dataset)}/dt={_day(day)}/{run_id}.parquet"


def quarantine_day_key(dataset: str, day: date | str, run_id: str) -> str:
    """`quarantine/<dataset>/dt=YYYY-MM-DD/_day-<run_id>.parquet`: a closed day rolled up."""
    return quarantine_key(dataset, day, f"{QUARANTINE_DAY_PREFIX}{run_id}")


def quarantine_prefix(dataset: str | None = None) -> str:
    """`quarantine/` or `quarantine/<dataset>/`."""
    return f"{QUARANTINE}/" if dataset is None else f"{QUARANTINE}/{check_name(dataset)}/"


def snapshots_prefix(dataset: str | None = None) -> str:
    """`_snapshots/` or `_snapshots/<dataset>/`: the version documents and `current.json`."""
    return f"{SNAPSHOTS}/" if dataset is None else f"{SNAPSHOTS}/{check_name(dataset)}/"


def snapshot_key(dataset: str, version: int) -> str:
    """`_snapshots/<dataset>/<version>.json`, zero-padded so keys sort by version."""
    return f"{SNAPSHOTS}/{check_name(dataset)}/{version:010d}.json"


def current_key(dataset: str) -> str:
    """`_snapshots/<dataset>/current.json`: the pointer readers follow."""
    return f"{SNAPSHOTS}/{check_name(dataset)}/current.json"


def snapshot_version_of(key: str) -> int | None:
    """The version number in a snapshot key, or None for `current.json` and others."""
    name = key.rsplit("/", 1)[-1]
    stem = name.removesuffix(".json")
    return int(stem) if stem.isdigit() else None


def manifest_key(job: str, run_id: str) -> str:
    """`_runs/<job>/<run_id>.json`: the run manifest, whose existence is the commit."""
    return f"{RUNS}/{check_name(job, 'job')}/{check_run_id(run_id)}.json"


def runs_prefix(job: str | None = None) -> str:
    """`_runs/` or `_runs/<job>/`: a job's manifests (and its `_archive/`)."""
    return f"{RUNS}/" if job is None else f"{RUNS}/{check_name(job, 'job')}/"


def manifest_archive_prefix(job: str) -> str:
    """`_runs/<job>/_archive/`: the day archives retention folds old manifests into."""
    return f"{runs_prefix(job)}_archive/"


def manifest_archive_key(job: str, day: date) -> str:
    """Summaries of a day's run manifests, written when retention folds old manifests."""
    return f"{RUNS}/{check_name(job, 'job')}/_archive/{day.isoformat()}.jsonl.gz"


def state_key(*parts: str) -> str:
    """`_state/...`: small state documents (entitlements, cursors, caches)."""
    return "/".join((STATE, *parts))


# What clean has consumed: manifests read once, their input ids cached (see `RunLog.consumed`).
CLEAN_CONSUMED_KEY = f"{STATE}/clean/processed.json"


def lease_key(name: str) -> str:
    """`_locks/<name>.json`: the writer lease in a bucket (when Redis is not there)."""
    return f"{LOCKS}/{check_name(name, 'lock')}.json"


def lock_file_key(name: str) -> str:
    """`_locks/<name>.lock`: the file `flock` holds on a local lake (when Redis is not there)."""
    return f"{LOCKS}/{check_name(name, 'lock')}.lock"


def area_prefix(area: str) -> str:
    """The prefix of one of the lake's `AREAS`."""
    if area not in AREAS:
        raise ValueError(f"{area!r} is not an area of the lake: {AREAS}")
    return f"{area}/"


def quality_report_key(dataset: str, run_id: str) -> str:
    """`reports/quality/<dataset>/<run_id>.json`."""
    return f"{REPORTS}/quality/{check_name(dataset)}/{run_id}.json"


def quality_reports_prefix(dataset: str | None = None) -> str:
    """`reports/quality/` or `reports/quality/<dataset>/`."""
    if dataset is None:
        return f"{REPORTS}/quality/"
    return f"{REPORTS}/quality/{check_name(dataset)}/"


def quality_report_archive_key(day: date) -> str:
    """One archive per day holding every dataset's reports of that day (compaction)."""
    return f"{QUALITY_REPORT_ARCHIVES}{day.isoformat()}.jsonl.gz"


QUALITY_REPORT_ARCHIVES = f"{REPORTS}/quality/_archive/"
QUALITY_DAILY_KEY = f"{REPORTS}/quality/_daily.jsonl.gz"
SUMMARY_REPORT_KEY = f"{REPORTS}/summary_report.json"
QUALITY_METRICS_KEY = f"{REPORTS}/quality_metrics.json"
SUMMARY_KEY = f"{REPORTS}/summary.json"


def last_part(key: str) -> str:
    """The last part of a key or listed prefix (`raw/finnhub/` -> `finnhub`)."""
    return key.rstrip("/").rsplit("/", 1)[-1]


def partition_of(key: str) -> str | None:
    """The `dt=` partition value in a key, or None."""
    match = _PARTITION.search(f"/{key}")
    return match.group(1) if match else None


def dataset_of(key: str) -> str | None:
    """The dataset a clean or quarantine key belongs to."""
    parts = key.split("/")
    if len(parts) >= 2 and parts[0] in (CLEAN, QUARANTINE, SNAPSHOTS):
        return parts[1]
    return None


def _day(day: date | str) -> str:
    text = day.isoformat() if isinstance(day, date) else day
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ConfigError(f"invalid partition day {text!r}")
    return text
