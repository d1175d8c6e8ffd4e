"""Prometheus metrics of the pipeline, computed from the lake and Redis (`bucketpipe metrics`).

A scrape reads the operator's view (`bucketpipe.serve.ops`) at most once per
`BUCKETPIPE_METRICS_CACHE_SECONDS`; scrapes in between reuse it, so their cost in S3 requests
is bounded whatever the scrape interval. docs/operations.md lists every series.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bucketpipe import __version__
from bucketpipe.serve.health import Expectations
from bucketpipe.serve.ops import OpsView

log = logging.getLogger(__name__)

PREFIX = "bucketpipe_"


@dataclass(frozen=True)
class Reading:
    """One collection: the view (None when it failed), what it cost and when."""

    view: OpsView | None
    seconds: float
    s3_requests: int
    at: float
    error: str | None = None


class CachedView:
    """Collects the view at most once per `ttl` seconds; thread-safe."""

    def __init__(self, collect: Callable[[], tuple[OpsView, int]], ttl: float) -> None:
        self._collect = collect
        self.ttl = ttl
        self._lock = threading.Lock()
        self._reading: Reading | None = None
        self.errors = 0
        self.collections = 0

    def get(self) -> Reading:
        with self._lock:
            now = time.monotonic()
            if self._reading is None or now - self._reading.at >= self.ttl:
                self._reading = self._read(now)
            return self._reading

    def _read(self, now: float) -> Reading:
        started = time.perf_counter()
        self.collections += 1
        try:
            view, requests = self._collect()
        except Exception as exc:  # a scrape reports the failure as a series, never a 500
            self.errors += 1
            log.warning("metrics collection failed", extra={"error": str(exc)[:300]})
            return Reading(None, time.perf_counter() - started, 0, now, type(exc).__name__)
        return Reading(view, time.perf_counter() - started, requests, now)


class PipelineCollector:
    """A prometheus_client collector over the cached view."""

    def __init__(
        self,
        cache: CachedView,
        expect: Expectations,
        *,
        object_limit: int,
        object_warn_percent: float,
    ) -> None:
        self.cache = cache
        self.expect = expect
        self.object_limit = object_limit
        self.object_warn_percent = object_warn_percent

    def collect(self) -> Iterator[Metric]:
        reading = self.cache.get()
        yield _gauge("info", "Bucketpipe's version.", [({"version": __version__}, 1.0)])
        yield _gauge(
            "lake_up",
            "1 when the last collection read the lake.",
            [({}, 0.0 if reading.view is None else 1.0)],
        )
        yield _gauge(
            "collection_duration_seconds",
            "How long the last collection took.",
            [({}, reading.seconds)],
        )
        yield _gauge(
            "collection_s3_requests",
            "S3 requests the last collection made.",
            [({}, float(reading.s3_requests))],
        )
        errors = CounterMetricFamily(
            PREFIX + "collection_errors", "Collections that failed (lake or Redis unreadable)."
        )
        errors.add_metric([], float(self.cache.errors))
        yield errors
        if reading.view is not None:
            yield from self._view(reading.view)

    def _view(self, view: OpsView) -> Iterator[Metric]:
        yield _gauge(
            "redis_up",
            "1 when Redis answered, 0 when down, -1 when not configured.",
            [({}, {"ok": 1.0, "off": -1.0}.get(view.redis, 0.0))],
        )
        yield from self._jobs(view)
        yield from self._datasets(view)
        yield from self._objects(view)
        calls = CounterMetricFamily(
            PREFIX + "api_calls",
            "Finnhub HTTP responses by status, retried attempts included (0: no answer).",
            labels=["status"],
        )
        # 200 and 429 are always there (0 before the first call): a rate over them works.
        for status, count in {"200": 0, "429": 0, **view.api_responses}.items():
            calls.add_metric([status], float(count))
        yield calls

    def _jobs(self, view: OpsView) -> Iterator[Metric]:
        jobs = view.jobs
        yield _gauge(
            "job_last_success_timestamp_seconds",
            "End of the job's last successful run.",
            _per(jobs, "job", lambda j: _ts(j.last_success_at)),
        )
        yield _gauge(
            "job_last_run_timestamp_seconds",
            "End of the job's last run.",
            _per(jobs, "job", lambda j: _ts(j.last_run_at)),
        )
        yield _gauge(
            "job_last_run_status",
            "The job's last run: 1 succeeded, 0 failed.",
            _per(jobs, "job", lambda j: _ok(j.last_status)),
        )
        yield _gauge(
            "job_last_run_duration_seconds",
            "How long the job's last run took.",
            _per(jobs, "job", lambda j: j.last_duration_s),
        )
        yield _gauge(
            "job_consecutive_failures",
            "Failed runs of the job in a row.",
            _per(jobs, "job", lambda j: float(j.consecutive_failures)),
        )
        yield _gauge(
            "job_running",
            "1 while Redis says the job is running.",
            _per(jobs, "job", lambda j: float(j.running)),
        )
        yield _gauge(
            "job_stale_after_seconds",
            "Age of the last success past which the job counts as stale.",
            _per(jobs, "job", lambda j: _secs(self.expect.job_limit(j.job))),
        )
        runs = CounterMetricFamily(
            PREFIX + "job_runs", "Runs of the job by outcome.", labels=["job", "status"]
        )
        for job in jobs:
            for status in ("succeeded", "failed"):
                runs.add_metric([job.job, status], float(job.runs.get(status, 0)))
        yield runs

    def _datasets(self, view: OpsView) -> Iterator[Metric]:
        ds = view.datasets
        yield _gauge(
            "dataset_last_commit_timestamp_seconds",
            "When the dataset last changed.",
            _per(ds, "dataset", lambda d: _ts(d.committed_at)),
        )
        yield _gauge(
            "dataset_last_refresh_timestamp_seconds",
            "When a run last delivered input for the dataset (changed or not).",
            _per(ds, "dataset", lambda d: _ts(d.checked_at)),
        )
        yield _gauge(
            "dataset_stale_after_seconds",
            "Age of the last refresh past which the dataset counts as stale.",
            _per(ds, "dataset", lambda d: _secs(self.expect.dataset_limit(d.name))),
        )
        yield _gauge(
            "dataset_newest_event_timestamp_seconds",
            "The dataset's newest event time.",
            _per(ds, "dataset", lambda d: _ts(d.newest_event)),
        )
        yield _gauge(
            "dataset_rows",
            "Rows in the dataset's current snapshot.",
            _per(ds, "dataset", lambda d: float(d.rows)),
        )
        yield _gauge(
            "dataset_files",
            "Data files in the dataset's current snapshot.",
            _per(ds, "dataset", lambda d: float(d.files)),
        )
        yield _gauge(
            "dataset_bytes",
            "Bytes of the dataset's current snapshot.",
            _per(ds, "dataset", lambda d: float(d.bytes)),
        )
        yield _gauge(
            "dataset_version",
            "The dataset's current snapshot version.",
            _per(ds, "dataset", lambda d: float(d.version)),
        )
        # Every dataset with a report, committed or not: a first delivery whose every row was
        # quarantined commits nothing, and its validity of 0 is what an operator must see.
        quality = sorted(view.quality.items())
        scores = [
            ({"dataset": name, "dimension": dim}, s)
            for name, dims in quality
            for dim, (s, _) in sorted(dims.items())
        ]
        marks = [
            ({"dataset": name, "dimension": dim}, t)
            for name, dims in quality
            for dim, (_, t) in sorted(dims.items())
        ]
        yield _gauge("dataset_quality_score", "Latest quality score in % per dimension.", scores)
        yield _gauge("dataset_quality_threshold", "The dimension's pass mark in %.", marks)

    def _objects(self, view: OpsView) -> Iterator[Metric]:
        count = view.objects
        yield _gauge(
            "lake_objects",
            "Objects in the lake (last census plus runs since).",
            [({}, float(count.total))],
        )
        yield _gauge(
            "lake_objects_by_area",
            "Objects per top-level area of the lake.",
            [({"area": a}, float(n)) for a, n in count.areas.items()],
        )
        yield _gauge(
            "lake_object_limit",
            "Most objects the bucket may hold (setting).",
            [({}, float(self.object_limit))],
        )
        yield _gauge(
            "lake_object_warn_ratio",
            "Share of the limit the alert fires at.",
            [({}, self.object_warn_percent / 100)],
        )
        yield _gauge(
            "lake_objects_census_timestamp_seconds",
            "When the lake was last counted.",
            [({}, _ts(count.counted_at))] if count.counted_at else [],
        )


def _gauge(
    name: str, help_text: str, samples: Iterable[tuple[dict[str, str], float | None]]
) -> GaugeMetricFamily:
    items = [(labels, value) for labels, value in samples if value is not None]
    label_names = sorted(items[0][0]) if items else []
    family = GaugeMetricFamily(PREFIX + name, help_text, labels=label_names)
    for labels, value in items:
        family.add_metric([labels[n] for n in label_names], value)
    return family


def _per(items: Iterable[Any], label: str, value: Callable[[Any], float | None]) -> Any:
    return [({label: getattr(i, "job", None) or i.name}, value(i)) for i in items]


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _secs(delta: Any) -> float | None:
    return delta.total_seconds() if delta is not None else None


def _ok(status: str | None) -> float | None:
    return None if status is None else float(status == "succeeded")


def wsgi_app(collector: PipelineCollector) -> Callable[..., Iterable[bytes]]:
    """`/metrics` (Prometheus text), `/healthz` (the process serves) and `/readyz` (the last
    collection read the lake)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            reading = collector.cache.get()
            if reading.view is None:
                return _text(start_response, "503 Service Unavailable", f"{reading.error}\n")
            return _text(start_response, "200 OK", "ready\n")
        return _text(start_response, "404 Not Found", "try /metrics, /healthz or /readyz\n")

    return app


def _text(start_response: Callable[..., Any], status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]
