"""`bucketpipe tables` as users run it, on a local lake and on S3: after the demo
pipeline, and again after another ingest, clean and compaction with vacuum, it lists every
dataset, and each table reads in deltalake, Polars and DuckDB with the row counts of
`bucketpipe sql`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bucketpipe.config.settings import Settings, env_name
from bucketpipe.context import lake_store
from bucketpipe.lake.duck import quote_ident
from bucketpipe.serve.tables import JSON_KEYS
from tests.conftest import SettingsFactory
from tests.support.cli import run_cli
from tests.support.delta_readers import ENGINES, Readers
from tests.support.s3_servers import active_secrets

pytestmark = pytest.mark.integration


def env_of(settings: Settings, home: Path) -> dict[str, str]:
    """The environment that gives a command these settings (secrets included: a test lake)."""
    env = {"HOME": str(home)}
    for field, value in settings.model_dump().items():
        if value is None or field not in settings.model_fields_set:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        env[env_name(field)] = str(value)
    return env


@pytest.fixture
def env(lake_settings: SettingsFactory, tmp_path: Path) -> dict[str, str]:
    """A local lake or one on S3 (the shared `lake_settings`), with a small demo."""
    settings = lake_settings(demo_days=3, symbols=["AAPL", "MSFT"], sql_max_rows=1_000_000)
    return env_of(settings, tmp_path)


def cli(args: list[str], env: dict[str, str]) -> str:
    done = run_cli(args, env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def sql_counts(env: dict[str, str], datasets: list[str]) -> dict[str, int]:
    """Every dataset's row count, from one `bucketpipe sql` query."""
    query = " UNION ALL ".join(
        f"SELECT '{name}' AS dataset, count(*) AS n FROM {quote_ident(name)}" for name in datasets
    )
    rows = json.loads(cli(["sql", query, "--format", "json"], env))
    return {row["dataset"]: int(row["n"]) for row in rows}


def check_tables(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    tables = {t["dataset"]: t for t in json.loads(cli(["tables", "--format", "json"], env))}
    assert len(tables) >= 15, sorted(tables)
    for table in tables.values():
        assert tuple(table) == JSON_KEYS
        assert table["version"] is not None and table["partition_columns"] == ["dt"]
    counts = sql_counts(env, sorted(tables))
    settings = settings_of(env)
    readers = Readers(settings, lake_store(settings))
    try:
        for name, table in tables.items():
            assert table["rows"] == counts[name], name
            for engine in ENGINES:
                assert len(readers.delta(engine, name)) == counts[name], (name, engine)
    finally:
        readers.close()
    return tables


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a command run with `env` reads (as `bucketpipe` builds them)."""
    names = {env_name(field): field for field in Settings.model_fields}
    return Settings(**{names[k]: v for k, v in env.items() if k in names})


@pytest.mark.timeout(600)
def test_demo_pipeline_leaves_a_table_per_dataset_that_every_engine_reads(
    env: dict[str, str],
) -> None:
    cli(["ingest", "demo", "--run-id", "demo-1"], env)
    cli(["clean"], env)
    first = check_tables(env)
    text = cli(["tables"], env)
    assert all(name in text for name in first)
    assert all(f"# {engine}: quotes" in text for engine in ("Polars", "DuckDB", "Spark"))
    assert not any(secret in text for secret in active_secrets())

    cli(["ingest", "demo", "--run-id", "demo-2", "--days", "1", "--seed", "11"], env)
    cli(["clean"], env)
    cli(["compact"], {**env, "BUCKETPIPE_VACUUM_GRACE_HOURS": "0"})
    after = check_tables(env)
    assert sorted(after) == sorted(first)


def test_sync_backfills_a_lake_written_without_the_mirror(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    env = env_of(make_settings(demo_days=2, symbols=["AAPL"], sql_max_rows=1_000_000), tmp_path)
    off = {**env, "BUCKETPIPE_DELTA_MIRROR": "false"}
    cli(["ingest", "demo", "--run-id", "demo-1"], off)
    cli(["clean"], off)
    before = json.loads(cli(["tables", "--format", "json"], off))
    assert before and all(t["version"] is None for t in before)
    assert "not level with its snapshot" in cli(["tables"], off)
    cli(["tables", "--sync"], off)  # asked for explicitly: done even with the mirror off
    check_tables(env)
