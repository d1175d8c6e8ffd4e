"""A small lake for the SQL sandbox tests: two committed datasets and files it must not reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.lake.commits import commit
from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry
from tests.support.s3_servers import MOTO_KEYS, Keys, S3Server, client_from_settings

OTHER_BUCKET = "sandbox-other-bucket"


def reader_overrides(server: S3Server) -> dict[str, Any]:
    """The server's read-only key beside the lake's own (writer) key (on RGW a read-only
    subuser of the writer, as a second key of an Allas project)."""
    return {
        "reader_access_key_id": server.reader.access_key,
        "reader_secret_access_key": server.reader.secret_key,
    }


def s3_sandbox_values(server: S3Server, prefix: str) -> dict[str, Any]:
    """Settings of an S3 lake in a new bucket of the server, with the writer and reader keys."""
    return {**server.settings(server.create_bucket(prefix)), **reader_overrides(server)}


def _plain(value: Any) -> str:
    return str(value.get_secret_value())


def writer_keys(settings: Settings) -> Keys:
    """The lake's own (writer) key; for a local lake the stand-in a deployment's Secret could
    still put in the environment."""
    if settings.aws_access_key_id is None or settings.aws_secret_access_key is None:
        return MOTO_KEYS["writer"]
    return Keys(_plain(settings.aws_access_key_id), _plain(settings.aws_secret_access_key))


def lake_keys(settings: Settings) -> list[Keys]:
    """Every key the lake's sandbox tests look for in what a query shows: writer and reader."""
    keys = [writer_keys(settings)]
    if settings.reader_access_key_id and settings.reader_secret_access_key:
        reader = Keys(
            _plain(settings.reader_access_key_id), _plain(settings.reader_secret_access_key)
        )
        keys.append(reader)
    return keys


def _parquet(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> Path:
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    return path


def build_lake(settings: Settings) -> dict[str, str]:
    """Commit `quotes` (3 rows) and `numbers` (200,000 rows); plant files outside them.

    Returns the paths (as DuckDB names them) of the planted files: an uncommitted file in
    clean/, a raw object, a run manifest, a file outside the lake, and one in another bucket.
    """
    store = lake_store(settings)
    work = Path(settings.temp_dir) / "build"
    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    quotes = _parquet(
        con,
        "SELECT * FROM (VALUES ('AAPL', 190.5), ('MSFT', 410.0), ('AAPL', 191.25)) "
        "AS t(symbol, price)",
        work / "quotes.parquet",
    )
    numbers = _parquet(con, "SELECT range AS n FROM range(200000)", work / "numbers.parquet")
    for key, path, rows in (
        (clean_key("quotes", "2026-01-01", "f1"), quotes, 3),
        (clean_key("numbers", "2026-01-01", "f1"), numbers, 200_000),
    ):
        store.upload(key, path)
        dataset = key.split("/")[1]
        entry = FileEntry(key=key, rows=rows, partition="2026-01-01")
        commit(store, dataset, run_id="t", add=[entry])
    planted = {
        "orphan": clean_key("quotes", "2026-01-01", "orphan"),
        "raw": "raw/demo/dt=2026-01-01/run.parquet",
        "manifest": "_runs/clean/c1.json",
    }
    for key in planted.values():
        store.upload(key, quotes)
    paths = {name: store.duckdb_path(key) for name, key in planted.items()}
    outside = Path(settings.temp_dir) / "outside.parquet"
    outside.write_bytes(quotes.read_bytes())
    paths["outside"] = str(outside)
    paths["lake"] = store.url
    if settings.lake_is_s3:
        client = client_from_settings(dict(settings))
        if OTHER_BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
            client.create_bucket(Bucket=OTHER_BUCKET)
        client.put_object(Bucket=OTHER_BUCKET, Key="x.parquet", Body=quotes.read_bytes())
        paths["other"] = f"s3://{OTHER_BUCKET}/x.parquet"
    else:
        other = Path(settings.lake).parent / OTHER_BUCKET / "x.parquet"
        other.parent.mkdir(parents=True, exist_ok=True)
        other.write_bytes(quotes.read_bytes())
        paths["other"] = str(other)
    return paths


def fill(sql: str, paths: dict[str, str]) -> str:
    """An attack with its `{orphan}`-style placeholders replaced by real paths."""
    for name, value in paths.items():
        sql = sql.replace("{" + name + "}", value)
    return sql
