"""What an operator needs to know, read cheaply: each job's runs, each dataset's freshness and
quality, the lake's object count. The metrics, `status --check` and `status` read it.

Sources, each the truth for what it holds: the run ledgers (`_state/jobs/`, written at every
run's end), the newest run manifests (a run killed between its manifest and its ledger), Redis
status (what is running now; a failure while the lake was down), the datasets' current
snapshots, `reports/quality_metrics.json` and the object census. A collection costs a fixed
number of requests: about two per job and one per dataset, and manifests are read once.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.census import ObjectCount, estimate, read_census
from bucketpipe.lake.layout import QUALITY_METRICS_KEY
from bucketpipe.lake.ledger import JobLedger, read_ledgers
from bucketpipe.lake.runs import RunLog, RunManifest
from bucketpipe.lake.snapshots import list_datasets, read_current
from bucketpipe.lake.storage import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

MANIFESTS_PER_DIR = 8  # newest manifests looked at per job folder
SUCCESS_STATES = {"succeeded", "idle", "noop"}


@dataclass(frozen=True)
class JobView:
    job: str
    last_status: str | None = None  # "succeeded" or "failed"
    last_run_id: str | None = None
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_duration_s: float | None = None
    consecutive_failures: int = 0
    reason: str | None = None
    running: bool = False
    runs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetView:
    name: str
    version: int
    rows: int
    files: int
    bytes: int
    committed_at: datetime
    checked_at: datetime  # the newer of its last commit and the last run that read input for it
    newest_event: datetime | None = None


@dataclass(frozen=True)
class OpsView:
    generated_at: datetime
    lake: str
    redis: str
    jobs: list[JobView]
    datasets: list[DatasetView]
    objects: ObjectCount
    api_responses: dict[str, int]
    # dataset -> dimension -> (score %, pass mark %) of its latest report ("overall" has the
    # pass mark of the lowest dimension): also of a dataset with no snapshot yet (every row of
    # its first delivery quarantined scores validity 0).
    quality: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)


class CountingStore:
    """A read-only view of a store that counts the requests made through it."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.requests = 0

    @property
    def url(self) -> str:
        return self.store.url

    def get(self, key: str) -> bytes:
        self.requests += 1
        return self.store.get(key)

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self.requests += 1
        for n, info in enumerate(self.store.list_objects(prefix), start=1):
            self.requests += n % 1000 == 0  # one more page per 1,000 keys
            yield info

    def list_dirs(self, prefix: str) -> list[str]:
        self.requests += 1
        return self.store.list_dirs(prefix)


class ManifestCache:
    """Run manifests are written once: each is fetched once per process."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], RunManifest | None] = {}

    def newest(self, store: Any, job: str) -> list[RunManifest]:
        runlog = RunLog(store)
        infos = sorted(runlog.manifest_infos(job), key=lambda i: i.last_modified, reverse=True)
        out = []
        for info in infos[:MANIFESTS_PER_DIR]:
            cache_key = (info.key, info.etag)
            if cache_key not in self._by_key:
                self._by_key[cache_key] = runlog.load(info.key)
            if (manifest := self._by_key[cache_key]) is not None:
                out.append(manifest)
        return out


def manifest_job(manifest: RunManifest) -> str:
    """The job name a manifest's run had on the command line."""
    if manifest.job == "ingest":
        return f"ingest-{manifest.source}"
    if manifest.job == "clean" and "rebuild" in manifest.details:
        return "rebuild"
    return manifest.job


def collect(
    store: Any, signals: Signals, now: datetime, cache: ManifestCache | None = None
) -> OpsView:
    """Everything the operator's views need, in a bounded number of requests."""
    cache = cache or ManifestCache()
    ledgers = read_ledgers(store)
    manifests = [m for job in RunLog(store).jobs() for m in cache.newest(store, job)]
    jobs = merge_jobs(ledgers, manifests, signals.statuses())
    checked: dict[str, datetime] = {}
    for ledger in ledgers:
        for name, when in ledger.datasets_checked.items():
            checked[name] = max(when, checked.get(name, when))
    api: Counter[str] = Counter()
    for ledger in ledgers:
        api.update(ledger.api_responses)
    return OpsView(
        generated_at=now,
        lake=store.url,
        redis=signals.state if signals.configured else "off",
        jobs=jobs,
        datasets=datasets(store, checked),
        objects=estimate(read_census(store), ledgers),
        api_responses=dict(sorted(api.items())),
        quality=quality_scores(store),
    )


def datasets(store: Any, checked: dict[str, datetime]) -> list[DatasetView]:
    out = []
    for name in list_datasets(store):
        snap = read_current(store, name)
        if snap is None:
            continue
        out.append(
            DatasetView(
                name=name,
                version=snap.version,
                rows=snap.rows,
                files=len(snap.files),
                bytes=snap.bytes,
                committed_at=snap.created_at,
                checked_at=max(snap.created_at, checked.get(name, snap.created_at)),
                newest_event=snap.max_time,
            )
        )
    return out


def quality_scores(store: Any) -> dict[str, dict[str, tuple[float, float]]]:
    """Dataset -> dimension -> (score, pass mark), from the latest quality reports."""
    try:
        data = json.loads(store.get(QUALITY_METRICS_KEY)).get("datasets") or {}
    except (ObjectNotFound, ValueError, AttributeError):
        return {}
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for name, report in data.items():
        dims = {
            dim: (float(d["score"]), float(d["threshold"]))
            for dim, d in (report.get("dimensions") or {}).items()
            if isinstance(d, dict) and "score" in d and "threshold" in d
        }
        if dims and report.get("overall_score") is not None:
            dims["overall"] = (float(report["overall_score"]), min(t for _, t in dims.values()))
        out[name] = dims
    return out


@dataclass(frozen=True)
class _Run:
    """One source's word on a job's last run."""

    at: datetime
    ok: bool
    run_id: str | None = None
    duration_s: float | None = None
    streak: int | None = None  # failures in a row, when the source knows
    reason: str | None = None


def merge_jobs(
    ledgers: Iterable[JobLedger],
    manifests: Iterable[RunManifest],
    live: dict[str, dict[str, str]],
) -> list[JobView]:
    """One view per job from its ledgers (shards summed), newest manifests and Redis status:
    the newest word on the last run wins; the last success is the newest of all."""
    runs: dict[str, Counter[str]] = {}
    said: dict[str, list[_Run]] = {}
    for ledger in ledgers:
        runs.setdefault(ledger.job, Counter()).update(ledger.runs)
        if (r := ledger.last) is not None:
            said.setdefault(ledger.job, []).append(
                _Run(
                    r.finished_at,
                    r.status == "succeeded",
                    r.run_id,
                    r.duration_s,
                    ledger.consecutive_failures,
                    r.reason,
                )
            )
        if ledger.last_success_at is not None:
            said.setdefault(ledger.job, []).append(_Run(ledger.last_success_at, True))
    for m in manifests:
        if m.status == "succeeded":  # a partial run's exit code made it a failure: see ledger
            said.setdefault(manifest_job(m), []).append(
                _Run(m.finished_at, True, m.input_id, m.duration_s)
            )
    running = set()
    for job, fields in live.items():
        state = fields.get("state", "")
        running |= {job} if state == "running" else set()
        if (at := _time(fields.get("finished_at"))) is not None and state != "running":
            ok = state in SUCCESS_STATES
            said.setdefault(job, []).append(
                _Run(
                    at,
                    ok,
                    fields.get("run_id"),
                    _float(fields.get("duration_s")),
                    reason=None if ok else fields.get("message"),
                )
            )
    names = sorted(set(runs) | set(said) | running)
    return [
        _view(job, runs.get(job, Counter()), said.get(job, []), job in running) for job in names
    ]


def _view(job: str, runs: Counter[str], said: list[_Run], running: bool) -> JobView:
    if not said:
        return JobView(job=job, running=running, runs=dict(runs))
    newest = max(said, key=lambda r: (r.at, r.run_id is not None))
    successes = [r.at for r in said if r.ok]
    streak = 0
    if not newest.ok:
        known = [r.streak for r in said if r.streak is not None]
        # A failure only Redis saw (the lake was down) adds one to the ledger's count.
        streak = newest.streak if newest.streak is not None else max(known, default=0) + 1
    return JobView(
        job=job,
        last_status="succeeded" if newest.ok else "failed",
        last_run_id=newest.run_id,
        last_run_at=newest.at,
        last_success_at=max(successes) if successes else None,
        last_duration_s=newest.duration_s,
        consecutive_failures=streak,
        reason=None if newest.ok else newest.reason,
        running=running,
        runs=dict(runs),
    )


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
