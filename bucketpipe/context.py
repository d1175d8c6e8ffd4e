"""The dependencies a job runs with, built once from settings and passed down: the lake, Redis,
a clock, and what every job does with both (hold the writer lock, announce its runs)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bucketpipe.config.logs import register_secrets
from bucketpipe.config.settings import Settings
from bucketpipe.coord.locks import WRITER_LOCK, LockHandle, writer_lock
from bucketpipe.coord.signals import RUN_FAILED, Event, Signals
from bucketpipe.lake.leases import lease_for
from bucketpipe.lake.runs import RunLog, RunManifest
from bucketpipe.lake.storage import ObjectStore, open_store


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """Settings plus the clients built from them: the lake, Redis signals, a clock."""

    settings: Settings
    store: ObjectStore
    signals: Signals
    clock: Callable[[], datetime] = field(default=_utcnow)

    @property
    def runlog(self) -> RunLog:
        return RunLog(self.store)

    def now(self) -> datetime:
        return self.clock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        register_secrets(settings.secret_values())
        return cls(
            settings=settings, store=lake_store(settings), signals=Signals.from_settings(settings)
        )

    def close(self) -> None:
        self.signals.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def writer_lock(
        self, *, wait_seconds: float = 0.0, lake_too: bool = False
    ) -> AbstractContextManager[LockHandle]:
        """The one writer lock of every job that changes snapshots: Redis, else the lake's
        (`lake_too`: both, for a job no commit's compare-and-swap protects)."""
        return writer_lock(
            WRITER_LOCK,
            signals=self.signals,
            fallback=lease_for(self.store),
            ttl_seconds=self.settings.lock_ttl_seconds,
            wait_seconds=wait_seconds,
            lake_too=lake_too,
        )

    def publish_status(self, job: str, manifest: RunManifest) -> None:
        """Replace the job's status in Redis with this run's figures."""
        self.signals.set_status(
            job,
            {
                "state": manifest.status,
                "run_id": manifest.input_id,
                "started_at": manifest.started_at,
                "finished_at": manifest.finished_at,
                "duration_s": round(manifest.duration_s, 3),
                "rows": manifest.rows,
                "errors": len(manifest.errors),
                "message": manifest.errors[0] if manifest.errors else "ok",
            },
        )

    def announce_running(self, job: str, run_id: str) -> None:
        self.signals.set_status(
            job, {"state": "running", "run_id": run_id, "started_at": self.now()}
        )

    def announce_failure(self, job: str, run_id: str, message: str) -> None:
        """A run that could not commit: say so in Redis (the bucket is unchanged)."""
        self.signals.publish(
            Event(kind=RUN_FAILED, run_id=run_id, job=job, extra={"error": message})
        )
        self.signals.set_status(
            job,
            {"state": "failed", "run_id": run_id, "finished_at": self.now(), "message": message},
        )


def lake_store(settings: Settings) -> ObjectStore:
    """The lake's object store, as the settings describe it."""
    return open_store(
        settings.lake,
        endpoint_url=settings.aws_endpoint_url,
        region=settings.aws_region,
        access_key_id=_plain(settings.aws_access_key_id),
        secret_access_key=_plain(settings.aws_secret_access_key),
        conditional_writes=settings.s3_conditional_writes,
        ca_bundle=settings.aws_ca_bundle,
    )


def _plain(value: object) -> str | None:
    from pydantic import SecretStr

    return value.get_secret_value() if isinstance(value, SecretStr) else None
