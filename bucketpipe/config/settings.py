"""The one settings object: the only reader of the environment."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from bucketpipe.config import values
from bucketpipe.config.settings_sources import SourceSettings
from bucketpipe.config.values import (
    DEFAULT_SYMBOLS,
    FINNHUB_DATASETS,
    FINNHUB_NEWS_CATEGORIES,
    interval,
    redact_url,
)

__all__ = [
    "DEFAULT_SYMBOLS",
    "FINNHUB_DATASETS",
    "FINNHUB_NEWS_CATEGORIES",
    "Settings",
    "all_env_names",
    "env_name",
    "interval",
    "redact_url",
]


class Settings(SourceSettings):
    """Every Bucketpipe setting. Environment variables are `BUCKETPIPE_<NAME>` unless noted.

    Fields are grouped: the lake, Redis, runs, logging and DuckDB (`settings_core`), the
    sources (`settings_sources`), then cleaning, the dashboard and operations (here).
    """

    # --- cleaning, quality, compaction, retention ---------------------------------------
    clean_config: str | None = Field(
        None, description="YAML file with per-dataset cleaning rules (see docs/cleaning.md)."
    )
    quality_thresholds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [80.0, 95.0, 90.0, 85.0],
        description="Pass marks in % for completeness, uniqueness, consistency, validity.",
    )
    compact_target_mb: int = Field(
        128, ge=1, description="Target size of a compacted Parquet file."
    )
    clean_small_file_mb: int = Field(
        8,
        ge=0,
        description="A committed file under this size in a partition a clean run writes to is "
        "rewritten with the run's rows, so a partition holds one small file between "
        "compactions (0: each run adds its own files until `bucketpipe compact`).",
    )
    retention_raw_days: int = Field(
        90, ge=1, description="Days raw data is kept after it has been compacted."
    )
    retention_quarantine_days: int = Field(90, ge=1, description="Days quarantine is kept.")
    retention_reports_days: int = Field(
        30, ge=1, description="Days per-run quality reports are kept (daily summaries stay)."
    )
    retention_manifests_days: int = Field(
        30, ge=1, description="Days run manifests are kept whole; older ones are summarised."
    )

    # --- dashboard and SQL --------------------------------------------------------------
    sql_timeout_seconds: float = Field(
        10.0, gt=0, description="Time limit of a user SQL query (dashboard and `sql`)."
    )
    sql_max_rows: int = Field(10_000, ge=1, description="Row cap of a user SQL query result.")
    sql_max_result_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Byte cap of a user SQL query result (its Arrow size); a longer result "
        "is cut like one past the row cap.",
    )
    sql_max_temp_size: str = Field(
        "1GiB",
        description="Cap on the spill files of one user SQL query; past it the query fails "
        "instead of filling the disk. Each SQL worker has its own temp directory, removed "
        "when the worker ends.",
    )
    sql_workers: int = Field(
        2,
        ge=1,
        le=16,
        description="SQL worker processes per dashboard process (each may use up to "
        "`BUCKETPIPE_DUCKDB_MEMORY_LIMIT` + 512 MiB while a query runs).",
    )
    refresh_seconds: int = Field(
        10, ge=2, description="How often the dashboard checks for newly committed data."
    )
    dashboard_password: SecretStr | None = Field(
        None,
        description="Shared password the dashboard asks for. From a Secret. On an address other "
        "than loopback the dashboard needs it, an auth proxy's header or Streamlit's sign-in.",
    )
    dashboard_auth_header: str | None = Field(
        None,
        description="Request header a trusted auth proxy sets on what it lets through (e.g. "
        "`X-Forwarded-Email`); the dashboard then refuses sessions without it. Only when "
        "nothing but the proxy can reach the dashboard.",
    )
    dashboard_public: bool = Field(
        False,
        description="`true` states that the dashboard may serve a non-loopback address without "
        "authentication (e.g. a port published on 127.0.0.1 only); otherwise it refuses to.",
    )
    # Read-only lake credentials for the dashboard and `bucketpipe sql` (the readers).
    reader_access_key_id: SecretStr | None = Field(
        None,
        description="Read-only S3 access key the dashboard and `bucketpipe sql` read the lake "
        "with, when the deployment provides one (else `AWS_ACCESS_KEY_ID`). From a Secret.",
    )
    reader_secret_access_key: SecretStr | None = Field(
        None,
        description="Secret key of `BUCKETPIPE_READER_ACCESS_KEY_ID`. From a Secret.",
    )

    # --- operations: alerts, metrics, health checks (docs/operations.md) ----------------
    alert_webhook_url: SecretStr | None = Field(
        None,
        description="Incoming webhook (Slack, Mattermost, Teams) that jobs post a `text` "
        "message to when a run fails, a dataset's quality falls below its threshold or the "
        "lake passes the object warning, and once on recovery. From a Secret. Unset: no "
        "messages.",
    )
    alert_repeat_minutes: int = Field(
        60,
        ge=1,
        description="An incident that is still open is announced again at most this often.",
    )
    alert_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Timeout of one webhook post (tried twice at most); a failing webhook never "
        "fails the run.",
    )
    lake_object_limit: int = Field(
        500_000,
        ge=1,
        description="Most objects the lake's bucket may hold (CSC Allas: 500,000 per bucket).",
    )
    lake_object_warn_percent: float = Field(
        80.0,
        gt=0,
        le=100,
        description="Alert when the lake's object count passes this share of the limit.",
    )
    expected_intervals: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Overrides of the expected time between runs of a job or refreshes of a "
        "dataset, comma-separated `name=interval` (`30m`, `6h`, `1d`; `0` = never checked), "
        "e.g. `ingest-finnhub=30m,clean=30m,earnings=2d`. Defaults in docs/operations.md.",
    )
    stale_after_intervals: float = Field(
        3.0,
        ge=1,
        description="A job or dataset is stale when its last success or refresh is older than "
        "this many expected intervals (`status --check`, the metrics and the alert rules).",
    )
    metrics_cache_seconds: float = Field(
        15.0,
        ge=0,
        description="`bucketpipe metrics` reuses what it read from the lake and Redis for this "
        "long, so frequent scrapes cost no extra requests.",
    )

    @field_validator("expected_intervals", mode="before")
    @classmethod
    def _split_intervals(cls, value: Any) -> Any:
        return values.split_list(value)

    @field_validator("expected_intervals")
    @classmethod
    def _check_intervals(cls, value: list[str]) -> list[str]:
        return values.check_intervals(value)

    @field_validator("quality_thresholds", mode="before")
    @classmethod
    def _split_thresholds(cls, value: Any) -> Any:
        return values.four_thresholds(value)

    @field_validator(
        "aws_access_key_id",
        "aws_secret_access_key",
        "redis_password",
        "finnhub_api_key",
        "source_access_key_id",
        "source_secret_access_key",
        "dashboard_password",
        "alert_webhook_url",
        "duckdb_max_temp_size",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        return values.blank_is_unset(value)

    @field_validator(
        "redis_url",
        "redis_username",
        "aws_endpoint_url",
        "aws_ca_bundle",
        "source",
        "source_endpoint_url",
        "dashboard_auth_header",
    )
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        return values.check_redis_url(value)

    @field_validator("aws_endpoint_url", "source_endpoint_url")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        return values.check_http_url(value, bare_host=True)

    @field_validator("finnhub_url")
    @classmethod
    def _check_finnhub_url(cls, value: str) -> str:
        return values.check_http_url(value.strip()) or value

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str | None) -> str | None:
        return values.check_lake(value) if value and value.startswith("s3://") else value

    @field_validator("duckdb_memory_limit", "duckdb_max_temp_size", "sql_max_temp_size")
    @classmethod
    def _duckdb_size(cls, value: str | None) -> str | None:
        return values.duckdb_size(value) if value else value

    @field_validator("dashboard_auth_header")
    @classmethod
    def _check_header_name(cls, value: str | None) -> str | None:
        return values.header_name(value)

    @field_validator("aws_ca_bundle")
    @classmethod
    def _readable_bundle(cls, value: str | None) -> str | None:
        # Checked here: boto3 and DuckDB would only fail at the first request, less clearly.
        if value and not Path(value).expanduser().is_file():
            raise ValueError(f"no such file {value!r} (the CA's PEM file)")
        return str(Path(value).expanduser().resolve()) if value else None

    @property
    def lake_is_s3(self) -> bool:
        return self.lake.startswith("s3://")

    @property
    def clean_small_file_bytes(self) -> int:
        """`clean_small_file_mb` in bytes: the size under which a commit folds a file."""
        return self.clean_small_file_mb * values.MIB

    def finnhub_key_id(self) -> str:
        """A short, non-reversible id of the API key, for Redis keys and logs."""
        key = self.finnhub_api_key.get_secret_value() if self.finnhub_api_key else ""
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for logs and `bucketpipe config`."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "***"
            elif name in _ADDRESSES and value:
                value = redact_url(value)
            out[name] = value
        return out

    def secret_values(self) -> list[str]:
        """Every secret the settings hold, for the log mask: the keys and passwords, and any
        password inside an address (a Redis URL may carry one)."""
        named = type(self).model_fields
        found = [getattr(self, n) for n in named if not n.endswith("access_key_id")]  # ids
        keys = [v.get_secret_value() for v in found if isinstance(v, SecretStr)]
        return [secret for secret in keys if secret] + self.address_passwords()

    def address_passwords(self) -> list[str]:
        """The passwords inside addresses (a Redis URL may carry one)."""
        found = (values.url_password(getattr(self, name)) for name in _ADDRESSES)
        return [password for password in found if password]


# Settings that are addresses: shown with any password masked, their passwords registered.
_ADDRESSES = (
    "redis_url",
    "aws_endpoint_url",
    "source",
    "source_endpoint_url",
    "finnhub_url",
    "lake",
)


def env_name(field: str) -> str:
    """The environment variable that sets a field."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return str(first)
    return f"BUCKETPIPE_{field.upper()}"


def all_env_names() -> dict[str, str]:
    """Environment variable name -> field name, for docs and manifest checks."""
    return {env_name(field): field for field in Settings.model_fields}
