"""What the pipeline is doing: last runs per job (manifests + Redis) and committed datasets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.context import Context
from bucketpipe.lake.layout import RUNS
from bucketpipe.lake.runs import RunManifest
from bucketpipe.serve.reader import DatasetInfo, LakeReader


@dataclass(frozen=True)
class JobStatus:
    """The last committed run of a job (ingest split by source), plus Redis' live view."""

    job: str
    last_run: RunManifest | None
    live: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> str:
        if self.live.get("state") in {"running", "failed"}:
            return self.live["state"]
        if self.last_run is not None:
            return self.last_run.status
        return self.live.get("state", "never run")


@dataclass(frozen=True)
class StatusReport:
    lake: str
    redis: str
    jobs: list[JobStatus]
    datasets: list[DatasetInfo]
    generated_at: datetime


def latest_manifests(ctx: Context, job: str, *, scan: int = 30) -> list[RunManifest]:
    """The newest manifests of a job, found by listing metadata (no GET per old run)."""
    infos = [
        info
        for info in ctx.store.list_objects(f"{RUNS}/{job}/")
        if info.key.endswith(".json") and "/_archive/" not in info.key
    ]
    infos.sort(key=lambda i: i.last_modified, reverse=True)
    out = []
    for info in infos[:scan]:
        try:
            out.append(RunManifest.model_validate_json(ctx.store.get(info.key)))
        except (ObjectNotFound, ValueError):
            continue
    out.sort(key=lambda m: m.finished_at, reverse=True)
    return out


def collect(ctx: Context) -> StatusReport:
    """Status of every job and dataset."""
    live = ctx.signals.statuses()
    jobs: dict[str, JobStatus] = {}
    for job in ctx.runlog.jobs():
        for manifest in latest_manifests(ctx, job):
            name = f"{job}-{manifest.source}" if manifest.source else job
            if name not in jobs:
                jobs[name] = JobStatus(job=name, last_run=manifest, live=live.get(name, {}))
    for name, fields in live.items():
        jobs.setdefault(name, JobStatus(job=name, last_run=None, live=fields))
    reader = LakeReader(ctx.store)
    datasets = [info for name in reader.datasets() if (info := reader.info(name)) is not None]
    return StatusReport(
        lake=ctx.store.url,
        redis=ctx.signals.state if ctx.signals.configured else "off",
        jobs=sorted(jobs.values(), key=lambda j: j.job),
        datasets=datasets,
        generated_at=ctx.now(),
    )
