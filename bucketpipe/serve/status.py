"""What the pipeline is doing: last runs per job (manifests + Redis) and committed datasets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bucketpipe.context import Context
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


def job_statuses(ctx: Context, *, scan: int = 30) -> dict[str, JobStatus]:
    """Every job's last committed run (ingest split by source), with Redis' live status on top."""
    live = ctx.signals.statuses()
    found: dict[str, JobStatus] = {}
    for job in ctx.runlog.jobs():
        for manifest in ctx.runlog.latest(job, scan=scan):
            name = f"{job}-{manifest.source}" if manifest.source else job
            found.setdefault(name, JobStatus(job=name, last_run=manifest, live=live.get(name, {})))
    for name, fields in live.items():
        found.setdefault(name, JobStatus(job=name, last_run=None, live=fields))
    return found


def collect(ctx: Context) -> StatusReport:
    """Status of every job and dataset."""
    jobs = job_statuses(ctx)
    reader = LakeReader(ctx.store)
    datasets = [info for name in reader.datasets() if (info := reader.info(name)) is not None]
    return StatusReport(
        lake=ctx.store.url,
        redis=ctx.signals.state if ctx.signals.configured else "off",
        jobs=sorted(jobs.values(), key=lambda j: j.job),
        datasets=datasets,
        generated_at=ctx.now(),
    )
