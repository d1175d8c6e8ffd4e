"""How often each job should run and each dataset be refreshed: the defaults of the shipped
schedules (k8s/cronjobs), the Finnhub cadences, and `BUCKETPIPE_EXPECTED_INTERVALS` on top.
docs/operations.md lists them."""

from __future__ import annotations

from datetime import timedelta

from bucketpipe import catalog
from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings, interval
from bucketpipe.ingest.finnhub.endpoints import BY_NAME
from bucketpipe.ingest.finnhub.plan import cadences
from bucketpipe.serve.health import Expectations

SCHEDULE = timedelta(minutes=15)  # ingest and clean CronJobs run every 15 minutes
JOB_INTERVALS = {
    "ingest-finnhub": SCHEDULE,
    "ingest-bucket": SCHEDULE,
    "ingest-demo": timedelta(hours=1),
    "clean": SCHEDULE,
    "compact": timedelta(days=1),
}


def dataset_intervals(settings: Settings) -> dict[str, timedelta]:
    """A catalog dataset is refreshed as often as the slowest of its endpoints' cadences (at
    least every clean run); a derived one as its slowest input."""
    by_dataset = cadences(settings.finnhub_cadences)
    by_endpoint = {name: by_dataset[e.dataset] for name, e in BY_NAME.items()}
    out: dict[str, timedelta] = {}
    specs = catalog.specs()
    for spec in specs:
        if spec.endpoints:
            known = [by_endpoint[e] for e in spec.endpoints if e in by_endpoint]
            out[spec.name] = max([SCHEDULE, *known])
    for spec in specs:
        if spec.derived_from:
            out[spec.name] = max([SCHEDULE, *(out.get(d, SCHEDULE) for d in spec.derived_from)])
    return out


def expectations(settings: Settings, *, max_age_minutes: float | None = None) -> Expectations:
    jobs = dict(JOB_INTERVALS)
    datasets = dataset_intervals(settings)
    for item in settings.expected_intervals:
        name, _, text = item.partition("=")
        name = name.strip()
        target = jobs if name in {*jobs, "rebuild"} or name.startswith("ingest-") else datasets
        target[name] = interval(text)
    if max_age_minutes is not None and max_age_minutes <= 0:
        raise ConfigError("--max-age: give a number of minutes above 0")
    return Expectations(
        jobs=jobs,
        datasets=datasets,
        stale_after=settings.stale_after_intervals,
        max_age=timedelta(minutes=max_age_minutes) if max_age_minutes else None,
    )
