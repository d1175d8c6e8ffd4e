"""Run ledgers: each job's outcomes kept in the lake, so metrics, health checks and alerts tell
the truth with Redis down.

One small document per job (per shard for an Indexed Job) under `_state/jobs/`, rewritten at
the end of every run: the last run, the last success, failures in a row, run counts by status,
and the cumulative figures the metrics need without reading every manifest (Finnhub HTTP
responses, objects written per lake area, when each dataset last received input). Only the
job's own runs write it, and a job never runs twice at once (`concurrencyPolicy: Forbid`, the
writer lock), so a read-modify-write is safe.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bucketpipe.config.errors import ConfigError, ObjectNotFound
from bucketpipe.lake.layout import QUARANTINE, RAW, REPORTS, RUNS, SNAPSHOTS, state_key
from bucketpipe.lake.runs import RunManifest
from bucketpipe.lake.storage import ObjectStore

log = logging.getLogger(__name__)

LEDGERS = state_key("jobs") + "/"
Outcome = Literal["succeeded", "failed"]
_JOB = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class LastRun(BaseModel):
    """How one run ended, as the command's exit code said."""

    run_id: str
    status: Outcome
    finished_at: datetime
    started_at: datetime | None = None
    reason: str | None = None
    exit_code: int = 0

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


class JobLedger(BaseModel):
    """A job's outcomes so far (one shard's, for an Indexed Job)."""

    job: str
    shard: int | None = None
    updated_at: datetime
    last: LastRun | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    runs: dict[str, int] = Field(default_factory=dict)
    api_responses: dict[str, int] = Field(default_factory=dict)
    objects_written: dict[str, int] = Field(default_factory=dict)
    datasets_checked: dict[str, datetime] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.job if self.shard is None else f"{self.job}.{self.shard}"


def check_job(job: str) -> str:
    """A job name as the CLI names runs: `ingest-finnhub`, `clean`, `compact`, ..."""
    if not _JOB.match(job):
        raise ConfigError(f"invalid job name {job!r}")
    return job


def ledger_key(job: str, shard: int | None = None) -> str:
    """`_state/jobs/<job>[.<shard>].json`."""
    name = check_job(job) if shard is None else f"{check_job(job)}.{int(shard)}"
    return f"{LEDGERS}{name}.json"


def read_ledger(store: ObjectStore, job: str, shard: int | None = None) -> JobLedger | None:
    try:
        return JobLedger.model_validate_json(store.get(ledger_key(job, shard)))
    except ObjectNotFound:
        return None
    except ValueError:
        log.warning("unreadable run ledger ignored", extra={"job": job, "shard": shard})
        return None


def read_ledgers(store: ObjectStore) -> list[JobLedger]:
    """Every job's ledger: one LIST and one GET per job."""
    out = []
    for info in store.list_objects(LEDGERS):
        if not info.key.endswith(".json"):
            continue
        try:
            out.append(JobLedger.model_validate_json(store.get(info.key)))
        except (ObjectNotFound, ValueError):
            continue
    return sorted(out, key=lambda led: led.name)


def record_run(
    store: ObjectStore,
    job: str,
    last: LastRun,
    *,
    manifest: RunManifest | None = None,
    shard: int | None = None,
    now: datetime,
) -> JobLedger:
    """Fold one run's end (and the manifest it committed, if any) into the job's ledger."""
    ledger = read_ledger(store, job, shard) or JobLedger(job=job, shard=shard, updated_at=now)
    ledger = apply_run(ledger, last, manifest, now)
    store.put(ledger_key(job, shard), ledger.model_dump_json(indent=1).encode(), "application/json")
    return ledger


def apply_run(
    ledger: JobLedger, last: LastRun, manifest: RunManifest | None, now: datetime
) -> JobLedger:
    """The ledger after one more run (pure)."""
    runs = Counter(ledger.runs)
    runs[last.status] += 1
    succeeded = last.status == "succeeded"
    update = {
        "updated_at": now,
        "last": last,
        "runs": dict(runs),
        "consecutive_failures": 0 if succeeded else ledger.consecutive_failures + 1,
        "last_success_at": last.finished_at if succeeded else ledger.last_success_at,
    }
    if manifest is not None:
        update["api_responses"] = _add(ledger.api_responses, api_responses(manifest))
        update["objects_written"] = _add(ledger.objects_written, objects_written(manifest))
        checked = dict(ledger.datasets_checked)
        checked.update(dict.fromkeys(manifest.datasets, manifest.finished_at))
        update["datasets_checked"] = checked
    return ledger.model_copy(update=update)


def _add(total: dict[str, int], more: Counter[str]) -> dict[str, int]:
    out = Counter(total)
    out.update(more)
    return {k: v for k, v in sorted(out.items()) if v}


def api_responses(manifest: RunManifest) -> Counter[str]:
    """Every HTTP response of the run's API calls by status, retried attempts included."""
    out: Counter[str] = Counter()
    for endpoint in manifest.endpoints.values():
        counts = endpoint.get("responses") or endpoint.get("http") or {}
        if isinstance(counts, dict):
            out.update({str(code): int(n) for code, n in counts.items()})
    return out


def objects_written(manifest: RunManifest) -> Counter[str]:
    """Objects a run added to each lake area, from its manifest alone.

    Compaction deletes as much as it writes, so its runs count nothing here: it takes an exact
    census of the lake instead (`bucketpipe.lake.census`).
    """
    out: Counter[str] = Counter()
    if manifest.job == "compact":
        return out
    out[RUNS] += 1
    if manifest.job == "ingest":
        copies = manifest.details.get("copies")
        out[RAW] += len(manifest.outputs) + (len(copies) if isinstance(copies, list) else 0)
        return out
    for result in manifest.datasets.values():
        out["clean"] += result.files_added
        if result.snapshot_version is not None:
            # A version document, and for a new dataset its `current.json` as well.
            out[SNAPSHOTS] += 2 if result.snapshot_version == 1 else 1
            # The Delta commit file mirroring it, in `clean/<dataset>/_delta_log/` (a
            # checkpoint every ten commits is left to the census).
            out["clean"] += 1
        out[QUARANTINE] += result.rows_quarantined > 0
        out[REPORTS] += result.quality_score is not None
    return out
