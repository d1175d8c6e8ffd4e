"""Run identity and run manifests: a run counts as committed once its manifest exists."""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from bucketpipe import __version__
from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.index import record_recent_run, update_index
from bucketpipe.lake.layout import (
    check_run_id,
    input_id,
    last_part,
    manifest_archive_key,
    manifest_archive_prefix,
    manifest_key,
    runs_prefix,
)
from bucketpipe.lake.storage import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

RunStatus = Literal["succeeded", "partial", "failed", "noop"]

# The jobs that write manifests under `_runs/<job>/` (ingest runs of every source are `ingest`).
INGEST_JOB = "ingest"
CLEAN_JOB = "clean"
COMPACT_JOB = "compact"


def utcnow() -> datetime:
    return datetime.now(UTC)


def resolve_run_id(
    job: str, *, k8s_job_name: str | None, cli_run_id: str | None, now: datetime
) -> str:
    """The run id: the Kubernetes Job name, else `--run-id`, else `<job>-<UTC timestamp>-<tag>`.

    A CronJob's Job name encodes its scheduled minute, so a retried pod reuses it and the run
    stays idempotent. A run started by hand gets a fresh id every time: the random tag keeps two
    runs started in the same second from taking each other for a rerun of a committed run.
    """
    for candidate in (k8s_job_name, cli_run_id):
        if candidate:
            return check_run_id(candidate)
    return check_run_id(
        f"{job}-{now.astimezone(UTC):%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}".lower()
    )


class DatasetResult(BaseModel):
    """What one run did to one dataset: the typed result of a clean, derive or rebuild step."""

    model_config = ConfigDict(frozen=True)

    rows_in: int = 0
    rows_written: int = 0
    rows_duplicate: int = 0
    rows_replaced: int = 0
    rows_quarantined: int = 0
    files_added: int = 0
    files_removed: int = 0
    snapshot_version: int | None = None
    quality_score: float | None = None
    status: str = "ok"
    message: str | None = None
    # The ingest inputs this run consumed into the dataset (recorded in its version too).
    inputs: list[str] | None = None
    # Rows quarantined per reason (when any were).
    quarantine_reasons: dict[str, int] | None = None
    # Generic datasets (landed files of unknown schema) only: how the files were read and typed.
    kind: str | None = None
    files: int | None = None
    files_failed: dict[str, str] | None = None
    types: dict[str, str] | None = None
    columns_dropped: dict[str, float] | None = None
    outliers: dict[str, dict[str, Any]] | None = None
    imputed: dict[str, int] | None = None
    drift: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _without_absent_details(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A manifest names the optional details only where a step had them.
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k not in _OPTIONAL_DETAILS or v is not None}


_OPTIONAL_DETAILS = frozenset(
    {
        "inputs",
        "quarantine_reasons",
        "kind",
        "files",
        "files_failed",
        "types",
        "columns_dropped",
        "outliers",
        "imputed",
        "drift",
    }
)


class RunManifest(BaseModel):
    """One run: what it consumed, what it wrote, how it went. Written last, it is the commit."""

    model_config = ConfigDict(extra="allow")

    job: str
    run_id: str
    source: str | None = None
    shard: int | None = None
    shards: int | None = None
    status: RunStatus = "succeeded"
    started_at: datetime
    finished_at: datetime
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    rows: int = 0
    datasets: dict[str, DatasetResult] = Field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    redis: str = "off"
    software_version: str = __version__
    host: str = Field(default_factory=socket.gethostname)
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def input_id(self) -> str:
        return input_id(self.run_id, self.shard)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def summary(self) -> dict[str, Any]:
        """The fields kept when old manifests are folded into a daily archive."""
        return {
            "job": self.job,
            "run_id": self.run_id,
            "source": self.source,
            "shard": self.shard,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "inputs": self.inputs,
            "rows": self.rows,
            "errors": self.errors[:5],
            "datasets": {
                name: {"rows_written": r.rows_written, "quality_score": r.quality_score}
                for name, r in self.datasets.items()
            },
        }


def service_name(manifest: RunManifest) -> str:
    """The service a run belongs to: its job, ingest split by source (`ingest-demo`)."""
    return f"{manifest.job}-{manifest.source}" if manifest.source else manifest.job


class RunLog:
    """Reads and writes run manifests (and the daily archives retention folds them into)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def write(self, manifest: RunManifest) -> str:
        key = manifest_key(manifest.job, manifest.input_id)
        self.store.put(
            key, manifest.model_dump_json(indent=1).encode(), content_type="application/json"
        )
        # The sidebar reads each service's last run from the lake index, not by listing.
        summary = {k: v for k, v in manifest.summary().items() if k != "inputs"}
        counts = {"input_count": len(manifest.inputs), "error_count": len(manifest.errors)}
        record_recent_run(self.store, service_name(manifest), {**summary, **counts})
        done = {"run_id": manifest.input_id, "finished_at": summary["finished_at"]}
        update_index(
            self.store,
            services={service_name(manifest): summary},
            endpoints={name: {**entry, **done} for name, entry in manifest.endpoints.items()},
        )
        return key

    def exists(self, job: str, run_input_id: str) -> bool:
        """True if this run is committed (its manifest exists or was archived)."""
        if self.store.head(manifest_key(job, run_input_id)) is not None:
            return True
        return run_input_id in self.archived_ids(job)

    def read(self, job: str, run_input_id: str) -> RunManifest:
        return RunManifest.model_validate_json(self.store.get(manifest_key(job, run_input_id)))

    def manifest_infos(self, job: str) -> list[ObjectInfo]:
        """Listing entries of the whole (not yet archived) manifests of a job, oldest id first."""
        return [
            info
            for info in self.store.list_objects(runs_prefix(job))
            if info.key.endswith(".json") and not info.key.startswith(manifest_archive_prefix(job))
        ]

    def manifest_keys(self, job: str) -> list[str]:
        """Keys of the whole (not yet archived) manifests of a job, oldest id first."""
        return [info.key for info in self.manifest_infos(job)]

    def load(self, key: str) -> RunManifest | None:
        """The manifest at `key`; None when it is gone or unreadable (callers skip it)."""
        try:
            return RunManifest.model_validate_json(self.store.get(key))
        except (ObjectNotFound, ValueError):
            return None

    def whole_ids(self, job: str) -> list[str]:
        """Input ids of the whole (not yet archived) manifests of a job."""
        return [_id_of(key) for key in self.manifest_keys(job)]

    def ids(self, job: str) -> list[str]:
        """Input ids of every committed run of a job, whole or archived."""
        return sorted(set(self.whole_ids(job)) | self.archived_ids(job))

    def archived(self, job: str) -> Iterator[dict[str, Any]]:
        """Summaries of archived runs."""
        for info in self.store.list_objects(manifest_archive_prefix(job)):
            try:
                data = gzip.decompress(self.store.get(info.key))
            except ObjectNotFound:
                continue
            for line in data.splitlines():
                if line.strip():
                    yield json.loads(line)

    def archived_ids(self, job: str) -> set[str]:
        ids = set()
        for entry in self.archived(job):
            shard = entry.get("shard")
            ids.add(input_id(entry["run_id"], shard))
        return ids

    def recent(self, job: str, limit: int = 50) -> list[RunManifest]:
        """The newest whole manifests of a job, newest first (by finish time)."""
        manifests = []
        for key in self.manifest_keys(job):
            try:
                manifests.append(RunManifest.model_validate_json(self.store.get(key)))
            except (ObjectNotFound, ValueError) as exc:
                log.warning("unreadable manifest skipped", extra={"key": key, "error": str(exc)})
        manifests.sort(key=lambda m: m.finished_at, reverse=True)
        return manifests[:limit]

    def latest(self, job: str, *, scan: int = 30) -> list[RunManifest]:
        """The newest manifests of a job, found by listing metadata (no GET per old run)."""
        infos = sorted(self.manifest_infos(job), key=lambda i: i.last_modified, reverse=True)
        found = [m for info in infos[:scan] if (m := self.load(info.key)) is not None]
        return sorted(found, key=lambda m: m.finished_at, reverse=True)

    def jobs(self) -> list[str]:
        return [last_part(d) for d in self.store.list_dirs(runs_prefix())]

    def consumed(self, job: str, *, cache_key: str, update_cache: bool = True) -> set[str]:
        """Input ids the committed runs of `job` consumed, whole manifests and archives alike.

        Each whole manifest is read once and each day archive again only when its ETag
        changed: what was read is cached at `cache_key` (written back unless `update_cache`
        is false, as for a reader).
        """
        try:
            cache = json.loads(self.store.get(cache_key))
        except (ObjectNotFound, ValueError):
            cache = {}
        seen_runs: set[str] = set(cache.get("runs", []))
        inputs: set[str] = set(cache.get("inputs", []))
        archives: dict[str, str] = dict(cache.get("archives", {}))
        changed = False
        for key in self.manifest_keys(job):
            run = _id_of(key)
            if run in seen_runs or (manifest := self.load(key)) is None:
                continue
            inputs.update(manifest.inputs)
            seen_runs.add(run)
            changed = True
        for info in self.store.list_objects(manifest_archive_prefix(job)):
            if archives.get(info.key) == info.etag:
                continue
            try:
                for line in gzip.decompress(self.store.get(info.key)).splitlines():
                    if line.strip():
                        inputs.update(json.loads(line).get("inputs", []))
            except (ObjectNotFound, OSError, ValueError):
                continue
            archives[info.key] = info.etag
            changed = True
        if changed and update_cache:
            body = {"runs": sorted(seen_runs), "inputs": sorted(inputs), "archives": archives}
            self.store.put(cache_key, json.dumps(body).encode(), "application/json")
        return inputs

    def archive_day(self, job: str, day: date, manifests: list[RunManifest]) -> str:
        """Fold manifests into the day's archive (merging with what is already there)."""
        key = manifest_archive_key(job, day)
        existing: dict[str, dict[str, Any]] = {}
        try:
            for line in gzip.decompress(self.store.get(key)).splitlines():
                if line.strip():
                    entry = json.loads(line)
                    existing[input_id(entry["run_id"], entry.get("shard"))] = entry
        except ObjectNotFound:
            pass
        for manifest in manifests:
            existing[manifest.input_id] = manifest.summary()
        body = "\n".join(json.dumps(e, sort_keys=True) for _, e in sorted(existing.items()))
        self.store.put(key, gzip.compress(body.encode() + b"\n"), content_type="application/gzip")
        return key


def _id_of(key: str) -> str:
    """The input id a whole manifest's key names (`_runs/<job>/<id>.json`)."""
    return last_part(key).removesuffix(".json")
