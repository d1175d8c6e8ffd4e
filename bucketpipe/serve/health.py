"""Is the pipeline healthy? Jobs whose last run failed or whose last success is too old, and
datasets not refreshed for too long: one line per problem (`status --check`, the probes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bucketpipe.serve.ops import DatasetView, JobView, OpsView


@dataclass(frozen=True)
class Expectations:
    """How often each job should run and each dataset be refreshed.

    `stale_after` intervals may pass before a job or dataset counts as stale (a run may be
    late or slow). A name without an interval (or with 0) is not checked for age. `max_age`,
    when set, replaces every interval-derived limit.
    """

    jobs: Mapping[str, timedelta] = field(default_factory=dict)
    datasets: Mapping[str, timedelta] = field(default_factory=dict)
    stale_after: float = 3.0
    max_age: timedelta | None = None

    def job_limit(self, job: str) -> timedelta | None:
        return self._limit(self.jobs.get(job))

    def dataset_limit(self, dataset: str) -> timedelta | None:
        return self._limit(self.datasets.get(dataset))

    def _limit(self, interval: timedelta | None) -> timedelta | None:
        if self.max_age is not None:
            return self.max_age
        if not interval:
            return None
        return interval * self.stale_after


def problems(
    view: OpsView,
    expect: Expectations,
    now: datetime,
    *,
    jobs: set[str] | None = None,
    datasets: bool = True,
) -> list[str]:
    """What is wrong, one line each (empty: healthy). `jobs` limits the check to those jobs
    (and then the datasets are checked only if `datasets`)."""
    out = []
    selected = [j for j in view.jobs if jobs is None or j.job in jobs]
    for name in sorted((jobs or set()) - {j.job for j in view.jobs}):
        out.append(f"job {name}: never ran")
    for job in selected:
        out += job_problems(job, expect.job_limit(job.job), now)
    if datasets:
        for dataset in view.datasets:
            out += dataset_problems(dataset, expect.dataset_limit(dataset.name), now)
    return out


def job_problems(job: JobView, limit: timedelta | None, now: datetime) -> list[str]:
    out = []
    if job.last_status == "failed":
        streak = f", {job.consecutive_failures} in a row" if job.consecutive_failures > 1 else ""
        why = f": {job.reason}" if job.reason else ""
        out.append(f"job {job.job}: last run {job.last_run_id or '?'} failed{streak}{why}")
    if limit is not None:
        if job.last_success_at is None:
            out.append(f"job {job.job}: no successful run yet")
        elif now - job.last_success_at > limit:
            out.append(
                f"job {job.job}: last success {age(now - job.last_success_at)} ago "
                f"(expected within {age(limit)})"
            )
    return out


def dataset_problems(dataset: DatasetView, limit: timedelta | None, now: datetime) -> list[str]:
    if limit is None or now - dataset.checked_at <= limit:
        return []
    return [
        f"dataset {dataset.name}: last refreshed {age(now - dataset.checked_at)} ago "
        f"(expected within {age(limit)})"
    ]


def age(delta: timedelta) -> str:
    """'45s', '12m', '3h 5m', '2d 4h'."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"
