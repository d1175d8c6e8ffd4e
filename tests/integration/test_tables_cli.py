"""`bucketpipe tables` as users run it, on a local lake and on S3 (moto): after the demo
pipeline, and again after another ingest, clean and compaction with vacuum, it lists every
dataset, and each table reads in deltalake, Polars and DuckDB with the row counts of
`bucketpipe sql`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.lake.duck import quote_ident
from bucketpipe.serve.tables import JSON_KEYS
from tests.conftest import S3_KEY_ID, S3_SECRET
from tests.integration.test_cli import run
from tests.support.delta_readers import ENGINES, Readers

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", "s3"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    base = {
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_DEMO_DAYS": "3",
        "BUCKETPIPE_SYMBOLS": "AAPL,MSFT",
        "BUCKETPIPE_SQL_MAX_ROWS": "1000000",
        "HOME": str(tmp_path),
    }
    if request.param == "local":
        return {**base, "BUCKETPIPE_LAKE": str(tmp_path / "lake")}
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return {
        **base,
        "BUCKETPIPE_LAKE": f"s3://{bucket}/lake",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
    }


def cli(args: list[str], env: dict[str, str]) -> str:
    done = run(args, env)
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
    settings = Settings(
        **{"lake": env["BUCKETPIPE_LAKE"], "temp_dir": env["BUCKETPIPE_TEMP_DIR"]},
        **_aws(env),
    )
    readers = Readers(settings, lake_store(settings))
    try:
        for name, table in tables.items():
            assert table["rows"] == counts[name], name
            for engine in ENGINES:
                assert len(readers.delta(engine, name)) == counts[name], (name, engine)
    finally:
        readers.close()
    return tables


def _aws(env: dict[str, str]) -> dict[str, Any]:
    if "AWS_ENDPOINT_URL" not in env:
        return {}
    return {
        "aws_endpoint_url": env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "aws_region": env["AWS_REGION"],
    }


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
    assert S3_SECRET not in text

    cli(["ingest", "demo", "--run-id", "demo-2", "--days", "1", "--seed", "11"], env)
    cli(["clean"], env)
    cli(["compact"], {**env, "BUCKETPIPE_VACUUM_GRACE_HOURS": "0"})
    after = check_tables(env)
    assert sorted(after) == sorted(first)


def test_sync_backfills_a_lake_written_without_the_mirror(tmp_path: Path) -> None:
    env = {
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_DEMO_DAYS": "2",
        "BUCKETPIPE_SYMBOLS": "AAPL",
        "BUCKETPIPE_SQL_MAX_ROWS": "1000000",
        "HOME": str(tmp_path),
    }
    off = {**env, "BUCKETPIPE_DELTA_MIRROR": "false"}
    cli(["ingest", "demo", "--run-id", "demo-1"], off)
    cli(["clean"], off)
    before = json.loads(cli(["tables", "--format", "json"], off))
    assert before and all(t["version"] is None for t in before)
    assert "not level with its snapshot" in cli(["tables"], off)
    cli(["tables", "--sync"], off)  # asked for explicitly: done even with the mirror off
    check_tables(env)
