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


def raw_archive_key(source: str, day: date) -> str:
    """The day's raw objects rolled into one archive by compaction."""
    return f"{RAW}/{check_name(source, 'source')}/dt={day.isoformat()}/_archive.jsonl.gz"


def clean_key(dataset: str, day: date | str, file_id: str) -> str:
    """`clean/<dataset>/dt=YYYY-MM-DD/<file-id>.parquet`."""
    return f"{CLEAN}/{check_name(dataset)}/dt={_day(day)}/{file_id}.parquet"


def quarantine_key(dataset: str, day: date | str, run_id: str) -> str:
    """`quarantine/<dataset>/dt=YYYY-MM-DD/<run_id>.parquet`."""
    return f"{QUARANTINE}/{check_name(dataset)}/dt={_day(day)}/{run_id}.parquet"


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


def manifest_archive_key(job: str, day: date) -> str:
    """Summaries of a day's run manifests, written when retention folds old manifests."""
    return f"{RUNS}/{check_name(job, 'job')}/_archive/{day.isoformat()}.jsonl.gz"


def state_key(*parts: str) -> str:
    """`_state/...`: small state documents (entitlements, cursors, caches)."""
    return "/".join((STATE, *parts))


def quality_report_key(dataset: str, run_id: str) -> str:
    """`reports/quality/<dataset>/<run_id>.json`."""
    return f"{REPORTS}/quality/{check_name(dataset)}/{run_id}.json"


SUMMARY_REPORT_KEY = f"{REPORTS}/summary_report.json"
QUALITY_METRICS_KEY = f"{REPORTS}/quality_metrics.json"
SUMMARY_KEY = f"{REPORTS}/summary.json"


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
