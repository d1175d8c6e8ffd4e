"""Settings of the sources: symbols and the demo market, Finnhub and its ingest, the bucket
source. A group of the one settings object (`bucketpipe.config.settings.Settings`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from bucketpipe.config import values
from bucketpipe.config.settings_core import CoreSettings, env
from bucketpipe.config.values import DEFAULT_SYMBOLS, FINNHUB_DATASETS


class SourceSettings(CoreSettings):
    """Symbols, the demo market, Finnhub, the bucket source."""

    # --- symbols and the demo source ----------------------------------------------------
    symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_SYMBOLS),
        description="Comma-separated stock symbols to ingest (tickers: letters, digits and "
        "`. : _ - ^ =`, e.g. `BRK.B`, `^GSPC`, `BINANCE:BTCUSDT`).",
    )
    demo_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days of history the demo generates, ending on the last session opened.",
    )
    demo_interval_minutes: int = Field(
        15, ge=1, le=390, description="Minutes between demo quote snapshots in trading hours."
    )
    demo_seed: int = Field(7, description="Seed of the deterministic demo market.")

    # --- finnhub ------------------------------------------------------------------------
    finnhub_api_key: SecretStr | None = Field(
        None,
        validation_alias=env("FINNHUB_API_KEY"),
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
    finnhub_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Timeout of each wait on the API; a call's whole answer must arrive within "
        "four of them (and be at most 64 MiB).",
    )
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
        validation_alias=env("JOB_COMPLETION_INDEX"),
        description="Shard index of a Kubernetes Indexed Job pod (`JOB_COMPLETION_INDEX`, set "
        "by Kubernetes); used with `ingest finnhub --shards N` and `clean --shards N`.",
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
    source_max_decompressed_bytes: Annotated[int, BeforeValidator(values.parse_size)] = Field(
        8 * values.GIB,
        ge=1024,
        description="Most bytes one source file may unpack to (gzip, an Excel workbook's "
        "parts, Parquet's decoded pages), e.g. `8GiB`: a decompression bomb stops here and "
        "the file is reported with the reason.",
    )
    source_max_line_bytes: Annotated[int, BeforeValidator(values.parse_size)] = Field(
        8 * values.MIB,
        ge=1024,
        le=64 * values.MIB,
        description="Longest line of a text file (CSV, NDJSON) and longest row of a workbook, "
        "e.g. `8MiB` (at most `64MiB`: DuckDB reads lines in buffers of twice this per "
        "thread). A longer line goes to quarantine with the reason and the rest of the file is "
        "kept; a longer workbook row refuses the workbook.",
    )

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        return values.upper_list(value)

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        return values.check_symbols(value)

    @field_validator("finnhub_datasets", mode="before")
    @classmethod
    def _split_datasets(cls, value: Any) -> Any:
        return values.finnhub_datasets(value)

    @field_validator("finnhub_cadences", "finnhub_news_categories", mode="before")
    @classmethod
    def _split_finnhub_lists(cls, value: Any) -> Any:
        return values.split_list(value)

    @field_validator("finnhub_cadences")
    @classmethod
    def _check_cadences(cls, value: list[str]) -> list[str]:
        return values.check_cadences(value)

    @field_validator("finnhub_news_categories")
    @classmethod
    def _check_categories(cls, value: list[str]) -> list[str]:
        return values.check_news_categories(value)
