"""Fake Finnhub -> `bucketpipe ingest finnhub` -> `bucketpipe clean` -> every dataset queryable
in DuckDB through the lake reader, on a local lake and on S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bucketpipe import catalog
from bucketpipe.config.settings import Settings
from bucketpipe.ingest.finnhub.endpoints import ENDPOINTS
from bucketpipe.lake.duck import connect, quote_ident
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.reader import LakeReader
from tests.conftest import SettingsFactory
from tests.support.finnhub_fixtures import finnhub_overrides
from tests.support.finnhub_server import FakeFinnhub

pytestmark = pytest.mark.integration


def environment(settings: Settings, home: Path) -> dict[str, str]:
    """The settings as the environment variables a pod would get."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    names = {
        "lake": "BUCKETPIPE_LAKE",
        "temp_dir": "BUCKETPIPE_TEMP_DIR",
        "aws_endpoint_url": "AWS_ENDPOINT_URL",
        "aws_region": "AWS_REGION",
        "aws_ca_bundle": "AWS_CA_BUNDLE",
        "finnhub_url": "BUCKETPIPE_FINNHUB_URL",
        "finnhub_calls_per_minute": "BUCKETPIPE_FINNHUB_CALLS_PER_MINUTE",
        "finnhub_calls_per_second": "BUCKETPIPE_FINNHUB_CALLS_PER_SECOND",
    }
    for field, name in names.items():
        value = getattr(settings, field)
        if value is not None:
            env[name] = str(value)
    for field, name in {
        "aws_access_key_id": "AWS_ACCESS_KEY_ID",
        "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
        "finnhub_api_key": "FINNHUB_API_KEY",
    }.items():
        secret = getattr(settings, field)
        if secret is not None:
            env[name] = secret.get_secret_value()
    env["BUCKETPIPE_SYMBOLS"] = ",".join(settings.symbols)
    return env


def bucketpipe(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bucketpipe", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def finnhub_datasets() -> list[str]:
    return [spec.name for spec in catalog.for_endpoints(e.name for e in ENDPOINTS)]


def quarantined(store: ObjectStore, dataset: str) -> bool:
    return any(True for _ in store.list_objects(f"quarantine/{dataset}/"))


def test_every_finnhub_dataset_is_queryable_after_clean(
    lake_settings: SettingsFactory, finnhub_server: FakeFinnhub, tmp_path: Path
) -> None:
    settings = lake_settings(**finnhub_overrides(finnhub_server, symbols="AAPL,MSFT,ZZZZQ"))
    env = environment(settings, tmp_path)
    ingest = bucketpipe(["ingest", "finnhub", "--run-id", "e2e-1"], env)
    assert ingest.returncode == 0, ingest.stderr
    clean = bucketpipe(["clean", "--run-id", "clean-1"], env)
    assert clean.returncode == 0, clean.stderr

    from bucketpipe.context import lake_store

    store = lake_store(settings)
    manifest = json.loads(store.get("_runs/clean/clean-1.json"))
    assert manifest["inputs"] == ["e2e-1"]
    reader = LakeReader(store)
    con = connect(settings)
    try:
        versions = reader.register_views(con)
        counts = {}
        for name in finnhub_datasets():
            assert name in versions, f"{name} has no snapshot after clean"
            row = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()
            counts[name] = row[0] if row else 0
        symbols = {r[0] for r in con.execute("SELECT DISTINCT symbol FROM quotes").fetchall()}
    finally:
        con.close()
    print(f"rows per dataset after one ingest and one clean: {counts}")
    assert all(n > 0 for n in counts.values()), counts
    # The unknown symbol was landed raw but never stored as a price of 0.
    assert symbols == {"AAPL", "MSFT"}
    assert quarantined(store, "quotes")
