"""Settings of the lake, Redis, runs, logging and DuckDB: the base of the one settings object.

`bucketpipe.config.settings.Settings` is the only class to instantiate; the groups of its
fields live in this module, `settings_sources` and `settings` itself, in that order.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bucketpipe.config import values


def env(name: str) -> Any:
    """An ecosystem name read as is (no BUCKETPIPE_ prefix)."""
    return AliasChoices(name)


class CoreSettings(BaseSettings):
    """The lake, Redis, run identity, logging and DuckDB. Variables are `BUCKETPIPE_<NAME>`
    unless noted."""

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
        validation_alias=env("AWS_ACCESS_KEY_ID"),
        description="S3 access key for the lake (`AWS_ACCESS_KEY_ID`). From a Secret.",
    )
    aws_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias=env("AWS_SECRET_ACCESS_KEY"),
        description="S3 secret key for the lake (`AWS_SECRET_ACCESS_KEY`). From a Secret.",
    )
    aws_endpoint_url: str | None = Field(
        None,
        validation_alias=env("AWS_ENDPOINT_URL"),
        description="S3 endpoint (`AWS_ENDPOINT_URL`), e.g. `https://a3s.fi` for CSC Allas or "
        "`http://minio:9000`. Unset means AWS.",
    )
    aws_region: str = Field(
        "us-east-1",
        validation_alias=env("AWS_REGION"),
        description="S3 region (`AWS_REGION`). Allas and MinIO accept the default.",
    )
    aws_ca_bundle: str | None = Field(
        None,
        validation_alias=env("AWS_CA_BUNDLE"),
        description="PEM file of the CA that signed the S3 endpoint's certificate "
        "(`AWS_CA_BUNDLE`), for an endpoint with a private CA; boto3, DuckDB and the SQL "
        "sandbox trust it. Unset: the system's CAs (enough for Allas and AWS).",
    )
    s3_conditional_writes: bool = Field(
        True,
        description="Create snapshot versions with `If-None-Match: *` so two writers can never "
        "commit the same version. Turn off only for a store that rejects the header.",
    )

    # --- redis --------------------------------------------------------------------------
    redis_url: str | None = Field(
        None,
        validation_alias=env("REDIS_URL"),
        description="Redis for events, status, locks, rate limits and live refresh "
        "(`REDIS_URL`, e.g. `redis://redis:6379/0`). Unset: Redis is off, jobs still commit.",
    )
    redis_username: str | None = Field(
        None,
        validation_alias=env("REDIS_USERNAME"),
        description="Redis ACL user (`REDIS_USERNAME`). Unset: Redis' `default` user (the jobs'). "
        "In the cluster the dashboard and `status` log in as the read-only `reader`.",
    )
    redis_password: SecretStr | None = Field(
        None,
        validation_alias=env("REDIS_PASSWORD"),
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
        "retried pod reuses it. Else `--run-id`, else a UTC timestamp and a random tag (a "
        "fresh id each run).",
    )
    lock_ttl_seconds: int = Field(
        300, ge=10, description="Time to live of a writer lock; renewed while the job runs."
    )
    vacuum_grace_hours: float = Field(
        6.0,
        ge=0,
        description="Vacuum deletes a file only once it has been unreferenced this long, counted "
        "from the commit that stopped referencing it, so readers holding an older snapshot keep "
        "working.",
    )
    vacuum_keep_versions: int = Field(
        3,
        ge=1,
        description="Vacuum always keeps this many newest versions of each dataset (and their "
        "files), however old: the derived datasets and a writer that lost a commit race read "
        "the versions they missed.",
    )
    delta_mirror: bool = Field(
        True,
        description="Mirror every commit to a Delta Lake log in each dataset's folder "
        "(`clean/<dataset>/_delta_log/`), so Polars, DuckDB, Spark and Trino can read the "
        "datasets (docs/open-lake.md).",
    )
    delta_checkpoint_interval: int = Field(
        10,
        ge=1,
        description="Commits between Delta checkpoints (a reader replays at most this many "
        "commit files); `compact` deletes log entries the vacuum grace period no longer needs.",
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
        "640MB",
        description="DuckDB memory limit (`640MB`, `512MiB` or a pod spec's `512Mi`); keep it "
        "near 60% of the pod's memory limit (the default suits a 1 GiB pod). Above it DuckDB "
        "spills to the temp directory instead of failing.",
    )
    duckdb_threads: int = Field(
        2, ge=1, le=1024, description="DuckDB worker threads (the pod's CPUs; at most 1024)."
    )
    duckdb_max_temp_size: str | None = Field(
        None,
        description="Cap on DuckDB's spill files (e.g. `384MiB`): a larger spill fails its "
        "query instead of filling the disk. Keep it below `BUCKETPIPE_SCRATCH_BYTES` (the temp "
        "emptyDir's sizeLimit), with room for the files a run unpacks. Unset: three quarters "
        "of `BUCKETPIPE_SCRATCH_BYTES`, else `1.5GiB`.",
    )
    temp_dir: str = Field(
        default_factory=lambda: str(Path(tempfile.gettempdir()) / "bucketpipe"),
        description="Scratch space for DuckDB spills and files before upload (an emptyDir in "
        "Kubernetes). Each run works in its own directory under it, removed when the run ends; "
        "a run removes those of runs that were killed.",
    )
    scratch_bytes: Annotated[int | None, BeforeValidator(values.parse_size)] = Field(
        None,
        ge=1,
        description="Size of the scratch space `BUCKETPIPE_TEMP_DIR` may fill: the temp "
        "emptyDir's sizeLimit in Kubernetes (e.g. `512Mi`). A file a run downloads or unpacks "
        "must fit in it after the spill cap and a margin (1/16, at most 64 MiB), or it is "
        "skipped with the reason. Unset: the free space of its file system when a run starts, "
        "and clean keeps its work tables in a compressed file there (outside the spill cap); "
        "set, they stay in memory and spill under the cap.",
    )

    @field_validator("lake")
    @classmethod
    def _check_lake(cls, value: str) -> str:
        value = values.check_lake(value)
        if not value.startswith("s3://"):
            # The first existing part of the path must be a directory (not /etc/passwd/lake).
            path = Path(value).expanduser().absolute()
            while not path.exists() and path != path.parent:
                path = path.parent
            if not path.is_dir():
                raise ValueError(f"{str(path)!r} is a file, not a directory")
        return value

    @model_validator(mode="after")
    def _spill_below_scratch(self) -> Self:
        if self.duckdb_max_temp_size is None:
            # Three quarters: the rest holds the files a run downloads and unpacks.
            spill = self.scratch_bytes * 3 // 4 if self.scratch_bytes else 3 * values.GIB // 2
            self.duckdb_max_temp_size = values.size_text(spill)
            return self
        spill = values.parse_size(self.duckdb_max_temp_size)
        if self.scratch_bytes is not None and spill >= self.scratch_bytes:
            raise ValueError(
                f"BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE ({self.duckdb_max_temp_size}) must be below "
                f"BUCKETPIPE_SCRATCH_BYTES ({self.scratch_bytes} bytes)"
            )
        return self
