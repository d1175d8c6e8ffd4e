"""The one settings object: the only reader of the environment."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SYMBOLS = ("AAPL", "GOOGL", "MSFT", "TSLA", "AMZN", "NVDA", "META")

FINNHUB_DATASETS = (
    "quotes",
    "company_profiles",
    "company_news",
    "market_news",
    "earnings",
    "earnings_calendar",
    "financials_reported",
    "basic_financials",
    "insider_transactions",
    "recommendations",
    "ipo_calendar",
    "candles",
    "social_sentiment",
    "dividends",
)

FINNHUB_NEWS_CATEGORIES = ("general", "forex", "crypto", "merger")
# A cadence interval: `0` (every run) or a number with a unit s/m/h/d.
_INTERVAL = re.compile(r"^(0|\d+(\.\d+)?[smhd])$")


def _env(name: str) -> Any:
    """An ecosystem name read as is (no BUCKETPIPE_ prefix)."""
    return AliasChoices(name)


def _csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every Bucketpipe setting. Environment variables are `BUCKETPIPE_<NAME>` unless noted."""

    model_config = SettingsConfigDict(
        env_prefix="BUCKETPIPE_",
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    # --- lake ---------------------------------------------------------------------------
    lake: str = Field(
        "./lake",
        description="Where the lake lives: `s3://bucket/prefix` (Allas, MinIO, AWS) or a local "
        "directory. A local directory is the embedded default.",
    )
    aws_access_key_id: SecretStr | None = Field(
        None,
        validation_alias=_env("AWS_ACCESS_KEY_ID"),
        description="S3 access key for the lake (`AWS_ACCESS_KEY_ID`). From a Secret.",
    )
    aws_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias=_env("AWS_SECRET_ACCESS_KEY"),
        description="S3 secret key for the lake (`AWS_SECRET_ACCESS_KEY`). From a Secret.",
    )
    aws_endpoint_url: str | None = Field(
        None,
        validation_alias=_env("AWS_ENDPOINT_URL"),
        description="S3 endpoint (`AWS_ENDPOINT_URL`), e.g. `https://a3s.fi` for CSC Allas or "
        "`http://minio:9000`. Unset means AWS.",
    )
    aws_region: str = Field(
        "us-east-1",
        validation_alias=_env("AWS_REGION"),
        description="S3 region (`AWS_REGION`). Allas and MinIO accept the default.",
    )
    s3_conditional_writes: bool = Field(
        True,
        description="Create snapshot versions with `If-None-Match: *` so two writers can never "
        "commit the same version. Turn off only for a store that rejects the header.",
    )

    # --- redis --------------------------------------------------------------------------
    redis_url: str | None = Field(
        None,
        validation_alias=_env("REDIS_URL"),
        description="Redis for events, status, locks, rate limits and live refresh "
        "(`REDIS_URL`, e.g. `redis://redis:6379/0`). Unset: Redis is off, jobs still commit.",
    )
    redis_password: SecretStr | None = Field(
        None,
        validation_alias=_env("REDIS_PASSWORD"),
        description="Redis AUTH password (`REDIS_PASSWORD`), kept out of the URL. From a Secret.",
    )
    redis_prefix: str = Field("bucketpipe:", description="Prefix of every Redis key.")
    redis_timeout_seconds: float = Field(
        2.0, gt=0, description="Socket timeout of Redis calls; past it Redis counts as down."
    )
    events_maxlen: int = Field(
        10_000, ge=100, description="Approximate cap on the length of the events stream."
    )

    # --- run identity and jobs ----------------------------------------------------------
    run_id: str | None = Field(
        None,
        description="Run id. In Kubernetes, set from the Job name through the downward API so a "
        "retried pod reuses it. Else `--run-id`, else a UTC timestamp.",
    )
    lock_ttl_seconds: int = Field(
        300, ge=10, description="Time to live of a writer lock; renewed while the job runs."
    )
    vacuum_grace_hours: float = Field(
        6.0,
        ge=0,
        description="Files no snapshot references are deleted only after this long, so readers "
        "holding an older snapshot keep working.",
    )

    # --- logging ------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="`json` lines, readable `text`, or `auto` (text on a terminal)."
    )

    # --- duckdb -------------------------------------------------------------------------
    duckdb_memory_limit: str = Field(
        "1GB",
        description="DuckDB memory limit; keep it near 60% of the pod's memory limit. Above it "
        "DuckDB spills to the temp directory instead of failing.",
    )
    duckdb_threads: int = Field(2, ge=1, description="DuckDB worker threads (the pod's CPUs).")
    duckdb_max_temp_size: str | None = Field(
        None,
        description="Cap on DuckDB's spill files (e.g. `1.5GiB`); keep it below the temp "
        "emptyDir's sizeLimit so a large spill fails the query instead of evicting the pod. "
        "Unset: DuckDB's default (90% of the free disk).",
    )
    temp_dir: str = Field(
        default_factory=lambda: str(Path(tempfile.gettempdir()) / "bucketpipe"),
        description="Scratch space for DuckDB spills and files before upload (an emptyDir in "
        "Kubernetes).",
    )

    # --- symbols and the demo source ----------------------------------------------------
    symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_SYMBOLS),
        description="Comma-separated stock symbols to ingest.",
    )
    demo_days: int = Field(30, ge=1, le=3650, description="Days of history the demo generates.")
    demo_interval_minutes: int = Field(
        15, ge=1, le=390, description="Minutes between demo quote snapshots in trading hours."
    )
    demo_seed: int = Field(7, description="Seed of the deterministic demo market.")

    # --- finnhub ------------------------------------------------------------------------
    finnhub_api_key: SecretStr | None = Field(
        None,
        validation_alias=_env("FINNHUB_API_KEY"),
        description="Finnhub API key (`FINNHUB_API_KEY`). From a Secret; sent only in the "
        "`X-Finnhub-Token` header.",
    )
    finnhub_url: str = Field(
        "https://finnhub.io/api/v1", description="Finnhub API base URL (proxies, test servers)."
    )
    finnhub_datasets: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(FINNHUB_DATASETS),
        description="Comma-separated Finnhub datasets to fetch.",
    )
    finnhub_calls_per_minute: int = Field(
        60, ge=1, description="Calls per minute of the API plan (free plan: 60)."
    )
    finnhub_calls_per_second: int = Field(
        30, ge=1, description="Calls per second of the API plan (every plan: 30)."
    )
    finnhub_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one API call.")
    finnhub_max_retries: int = Field(
        5, ge=0, description="Retries of one call after 429, 5xx, timeouts, connection errors."
    )
    finnhub_entitlement_retry_hours: float = Field(
        24.0,
        ge=0,
        description="After a 403 (not in the plan), skip that endpoint for this long.",
    )
    finnhub_news_days: int = Field(
        7, ge=1, description="Days of company news fetched on the first run."
    )
    finnhub_candle_days: int = Field(30, ge=1, description="Days of daily candles fetched.")
    finnhub_insider_days: int = Field(90, ge=1, description="Days of insider transactions.")
    finnhub_dividend_years: int = Field(5, ge=1, description="Years of dividends fetched.")

    # --- finnhub ingest: cadences, retries, sharding (sources/finnhub) --------------------
    finnhub_cadences: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Overrides of the refresh cadences, comma-separated `dataset=interval` "
        "(`30m`, `6h`, `1d`; `0` = every run), e.g. `company_news=30m,basic_financials=7d`.",
    )
    finnhub_news_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["general", "forex", "crypto", "merger"],
        description="Market news categories fetched (`general`, `forex`, `crypto`, `merger`).",
    )
    finnhub_news_window_days: int = Field(
        7,
        ge=1,
        le=365,
        description="Longest date range of one company-news call; a longer catch-up is split "
        "into windows of this many days.",
    )
    finnhub_calendar_days: int = Field(
        30, ge=1, le=365, description="Days ahead covered by the IPO and earnings calendars."
    )
    finnhub_backoff_seconds: float = Field(
        1.0,
        gt=0,
        description="Delay before the first retry of a call; it doubles with each retry, with "
        "random jitter.",
    )
    finnhub_backoff_max_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest wait before a retry, and the longest `Retry-After` honoured; a "
        "server asking for longer fails the call (it is due again next run).",
    )
    finnhub_run_budget_seconds: float = Field(
        600.0,
        gt=0,
        description="A run starts no new call after this long; what is left stays due for the "
        "next run. Keep it below the schedule interval.",
    )
    job_completion_index: int | None = Field(
        None,
        ge=0,
        validation_alias=_env("JOB_COMPLETION_INDEX"),
        description="Shard index of a Kubernetes Indexed Job pod (`JOB_COMPLETION_INDEX`, set "
        "by Kubernetes); used with `ingest finnhub --shards N`.",
    )

    # --- bucket source ------------------------------------------------------------------
    source: str | None = Field(
        None,
        description="Where `ingest bucket` reads files: `s3://bucket/prefix` or a directory.",
    )
    source_endpoint_url: str | None = Field(
        None, description="S3 endpoint of the source bucket when it differs from the lake's."
    )
    source_access_key_id: SecretStr | None = Field(
        None, description="Access key of the source bucket (defaults to the lake's)."
    )
    source_secret_access_key: SecretStr | None = Field(
        None, description="Secret key of the source bucket (defaults to the lake's)."
    )
    source_mapping: str | None = Field(
        None,
        description="YAML file mapping key patterns to datasets (default: the file's folder, "
        "else its name, is the dataset).",
    )
    source_max_bytes: int = Field(
        2 * 1024**3, ge=1, description="Objects larger than this are skipped and reported."
    )

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
        None, description="Optional shared password for the dashboard. From a Secret."
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

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        value = _csv(value)
        if isinstance(value, list):
            return [str(v).upper() for v in value]
        return value

    @field_validator("finnhub_datasets", mode="before")
    @classmethod
    def _split_datasets(cls, value: Any) -> Any:
        value = _csv(value)
        if isinstance(value, list):
            unknown = sorted(set(value) - set(FINNHUB_DATASETS))
            if unknown:
                raise ValueError(
                    f"unknown Finnhub datasets {unknown}; choose from {list(FINNHUB_DATASETS)}"
                )
        return value

    @field_validator("finnhub_cadences", "finnhub_news_categories", mode="before")
    @classmethod
    def _split_finnhub_lists(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("finnhub_cadences")
    @classmethod
    def _check_cadences(cls, value: list[str]) -> list[str]:
        for item in value:
            name, _, interval = item.partition("=")
            if name.strip() not in FINNHUB_DATASETS or not _INTERVAL.match(interval.strip()):
                raise ValueError(
                    f"bad cadence {item!r}: use dataset=interval, e.g. company_news=30m "
                    f"(intervals: 0, 90s, 30m, 6h, 1d, 7d; datasets: {list(FINNHUB_DATASETS)})"
                )
        return value

    @field_validator("finnhub_news_categories")
    @classmethod
    def _check_categories(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(FINNHUB_NEWS_CATEGORIES))
        if unknown:
            raise ValueError(
                f"unknown news categories {unknown}; choose from {list(FINNHUB_NEWS_CATEGORIES)}"
            )
        return value

    @field_validator("quality_thresholds", mode="before")
    @classmethod
    def _split_thresholds(cls, value: Any) -> Any:
        value = _csv(value)
        if isinstance(value, list) and len(value) != 4:
            raise ValueError("give four thresholds: completeness,uniqueness,consistency,validity")
        return value

    @field_validator(
        "aws_access_key_id",
        "aws_secret_access_key",
        "redis_password",
        "finnhub_api_key",
        "source_access_key_id",
        "source_secret_access_key",
        "dashboard_password",
        "duckdb_max_temp_size",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        # Compose and Kubernetes pass unset optional values as empty strings.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("redis_url", "aws_endpoint_url", "source", "source_endpoint_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def lake_is_s3(self) -> bool:
        return self.lake.startswith("s3://")

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
            elif name in {"redis_url", "aws_endpoint_url", "source"} and value:
                value = redact_url(value)
            out[name] = value
        return out


def redact_url(url: str) -> str:
    """Drop a password from a URL (`redis://user:pw@host` -> `redis://user:***@host`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


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
