"""The end of a run: its outcome kept in Redis and the lake's run ledger, and the incidents it
opens or closes announced to the webhook (docs/operations.md).

Every job run ends in `bucketpipe.jobs.common.guarded` (a `clean --watch` pass in
`bucketpipe.jobs.clean`), which calls `report_end`. Nothing here may fail the run: a broken
lake, Redis or webhook is logged.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from bucketpipe.config.errors import ObjectNotFound, StorageError, StorageUnavailable
from bucketpipe.config.logs import mask
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.coord.alerts import Incident, Notifier
from bucketpipe.lake.census import count_objects, usage
from bucketpipe.lake.layout import input_id, state_key
from bucketpipe.lake.ledger import LastRun, record_run
from bucketpipe.lake.runs import RunManifest, resolve_run_id, utcnow
from bucketpipe.lake.tls import EndpointTlsError
from bucketpipe.quality.report import read_latest

log = logging.getLogger("bucketpipe.outcomes")

# The CronJob that schedules each job (k8s/cronjobs), for the rerun hint.
CRONJOBS = {
    "ingest-finnhub": "bucketpipe-ingest-finnhub",
    "ingest-bucket": "bucketpipe-ingest-bucket",
    "ingest-demo": "bucketpipe-ingest-demo",
    "clean": "bucketpipe-clean",
    "compact": "bucketpipe-compact",
}


class ErrorCapture(logging.Handler):
    """Remembers the first error logged while a run goes on: its one-line reason."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.first is None:
            self.first = mask(record.getMessage().splitlines()[0] if record.msg else "")[:300]

    def __enter__(self) -> ErrorCapture:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        logging.getLogger().removeHandler(self)


@dataclass(frozen=True)
class RunEnd:
    """How one run of a job ended."""

    job: str
    run_id: str
    exit_code: int
    started_at: datetime
    finished_at: datetime
    reason: str | None = None
    shard: int | None = None
    lake_down: bool = False
    command: str = ""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


def job_of(args: argparse.Namespace) -> str | None:
    """The job a command runs (None for commands that are not runs: status, sql, ...)."""
    command = getattr(args, "command", None)
    if command == "ingest":
        return f"ingest-{args.source}"
    if command == "clean":
        return "rebuild" if getattr(args, "rebuild", None) else "clean"
    if command == "compact":
        return "compact"
    return None


def shard_of(args: argparse.Namespace, settings: Settings) -> int | None:
    text = getattr(args, "shard", None)
    if isinstance(text, str) and "/" in text:
        return int(text.split("/", 1)[0]) if text.split("/", 1)[0].isdigit() else None
    return settings.job_completion_index if getattr(args, "shards", None) else None


def report_end(
    args: argparse.Namespace,
    settings: Settings,
    *,
    code: int,
    error: BaseException | None,
    reason: str | None,
    started: datetime,
) -> None:
    """Record and announce the end of a job run (nothing for other commands)."""
    job = job_of(args)
    if job is None or (getattr(args, "watch", False) and error is None):
        return  # a watch stopped between passes reported each of its passes already
    run_id = getattr(args, "resolved_run_id", None) or resolve_run_id(
        job, k8s_job_name=settings.run_id, cli_run_id=getattr(args, "run_id", None), now=started
    )
    lake_down = _lake_failed(settings, error)
    end = RunEnd(
        job=job,
        run_id=run_id,
        exit_code=code,
        started_at=started,
        finished_at=utcnow(),
        reason=reason,
        shard=shard_of(args, settings),
        lake_down=lake_down,
    )
    Reporter(settings).finish(end)


def _lake_failed(settings: Settings, error: BaseException | None) -> bool:
    """Whether the run failed because the lake itself did not answer (then nothing is read or
    written there now: every request would wait through its retries again), or its endpoint's
    TLS failed (every request would fail the same way, and say so a second time)."""
    if isinstance(error, EndpointTlsError):
        return error.endpoint in (None, settings.aws_endpoint_url)
    if not isinstance(error, StorageUnavailable | StorageError) or isinstance(
        error, ObjectNotFound
    ):
        return False
    text = str(error)
    return settings.lake in text or (settings.aws_endpoint_url or "AWS") in text


class Reporter:
    """Records run ends; one per process (a `clean --watch` keeps its own across passes)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._notifier: Notifier | None = None

    def finish(self, end: RunEnd, manifest: RunManifest | None = None) -> None:
        try:
            with Context.from_settings(self.settings) as ctx:
                self._finish(ctx, end, manifest)
        except Exception as exc:  # reporting must never change how the run ended
            log.warning(
                "run end not recorded", extra={"job": end.job, "error": mask(str(exc))[:200]}
            )

    def _finish(self, ctx: Context, end: RunEnd, manifest: RunManifest | None) -> None:
        if manifest is None and not end.lake_down:
            manifest = find_manifest(ctx, end)
        reason = end.reason
        if not end.succeeded and manifest is not None and manifest.errors:
            reason = manifest.errors[0]
        reason = mask(reason or f"exit code {end.exit_code}")
        if not end.succeeded:
            ctx.announce_failure(end.job, end.run_id, reason)
        if not end.lake_down:
            last = LastRun(
                run_id=end.run_id,
                status="succeeded" if end.succeeded else "failed",
                started_at=end.started_at,
                finished_at=end.finished_at,
                reason=None if end.succeeded else reason,
                exit_code=end.exit_code,
            )
            record_run(ctx.store, end.job, last, manifest=manifest, shard=end.shard, now=ctx.now())
        notifier = self.notifier(ctx, lake_down=end.lake_down)
        self._announce_run(notifier, end, reason)
        if manifest is not None and not end.lake_down:
            self._announce_quality(ctx, notifier, manifest)
            self._announce_objects(ctx, notifier)

    def notifier(self, ctx: Context, *, lake_down: bool) -> Notifier:
        if self._notifier is None:
            self._notifier = Notifier.from_settings(
                self.settings,
                ctx.signals,
                None if lake_down else ctx.store,
                lambda name: state_key("alerts", name),
                origin=ctx.store.url,
            )
        self._notifier.signals = ctx.signals
        return self._notifier

    def _announce_run(self, notifier: Notifier, end: RunEnd, reason: str) -> None:
        key = f"run-{end.job}"
        if end.succeeded:
            notifier.resolve(key, f"{end.job} recovered: run {end.run_id} succeeded")
            return
        notifier.raise_incident(
            Incident(
                key=key,
                title=f"{end.job} failed (run {end.run_id}, exit code {end.exit_code})",
                details=(f"Reason: {reason}", f"Rerun: {self.rerun_hint(end)}"),
            )
        )

    def rerun_hint(self, end: RunEnd) -> str:
        cronjob = CRONJOBS.get(end.job)
        if self.settings.run_id and cronjob:
            return f"`oc create job --from=cronjob/{cronjob} {cronjob}-rerun-$(date +%s)`"
        command = {"rebuild": "clean --rebuild DATASET"}.get(end.job, end.job.replace("-", " "))
        return f"`bucketpipe {command}` (it redoes what run {end.run_id} did not commit)"

    def _announce_quality(self, ctx: Context, notifier: Notifier, manifest: RunManifest) -> None:
        touched = {n for n, r in manifest.datasets.items() if r.quality_score is not None}
        if not touched:
            return
        for name, report in read_latest(ctx.store).items():
            if name not in touched:
                continue
            failing = [
                f"{dim} {d.score:.1f}% < {d.threshold:.0f}%"
                for dim, d in report.dimensions.items()
                if not d.passed
            ]
            key = f"quality-{name}"
            if failing:
                title = f"quality of {name} below its threshold: {', '.join(failing)}"
                details = (f"Run {report.run_id}; see `bucketpipe status` or the Quality page.",)
                notifier.raise_incident(Incident(key, title, details))
            else:
                notifier.resolve(key, f"quality of {name} passes its thresholds again")

    def _announce_objects(self, ctx: Context, notifier: Notifier) -> None:
        s = self.settings
        used = usage(count_objects(ctx.store), s.lake_object_limit, s.lake_object_warn_percent)
        if used.level == "ok":
            notifier.resolve("lake-objects", f"object count back to normal: {used.message}")
            return
        details = ("Lower the BUCKETPIPE_RETENTION_* settings, run `bucketpipe compact`, or "
                   "move to a new bucket before writes start failing.",)  # fmt: skip
        notifier.raise_incident(Incident("lake-objects", used.message, details))


def find_manifest(ctx: Context, end: RunEnd) -> RunManifest | None:
    """The manifest this run committed (None for a no-op or a run that committed nothing)."""
    job_dir = "ingest" if end.job.startswith("ingest-") else end.job.replace("rebuild", "clean")
    ident = input_id(end.run_id, end.shard) if job_dir == "ingest" else end.run_id
    try:
        manifest = ctx.runlog.read(job_dir, ident)
    except (ObjectNotFound, ValueError):
        return None
    # An earlier run's manifest (a rerun of a committed id is a no-op) is not this run's work.
    if manifest.finished_at < end.started_at - timedelta(seconds=1):
        return None
    return manifest
