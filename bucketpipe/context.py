"""The dependencies a job runs with, built once from settings and passed down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bucketpipe.config.logs import register_secrets
from bucketpipe.config.settings import Settings
from bucketpipe.coord.signals import Signals
from bucketpipe.lake.runs import RunLog
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
        register_secrets(
            secret.get_secret_value() if secret else None
            for secret in (
                settings.aws_secret_access_key,
                settings.finnhub_api_key,
                settings.redis_password,
                settings.source_secret_access_key,
                settings.dashboard_password,
                settings.alert_webhook_url,
            )
        )
        return cls(
            settings=settings, store=lake_store(settings), signals=Signals.from_settings(settings)
        )

    def close(self) -> None:
        self.signals.close()


def lake_store(settings: Settings) -> ObjectStore:
    """The lake's object store, as the settings describe it."""
    return open_store(
        settings.lake,
        endpoint_url=settings.aws_endpoint_url,
        region=settings.aws_region,
        access_key_id=_plain(settings.aws_access_key_id),
        secret_access_key=_plain(settings.aws_secret_access_key),
        conditional_writes=settings.s3_conditional_writes,
    )


def _plain(value: object) -> str | None:
    from pydantic import SecretStr

    return value.get_secret_value() if isinstance(value, SecretStr) else None
