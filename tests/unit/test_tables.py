"""`bucketpipe tables`: the JSON keys, the text listing and the read snippets (pure)."""

from __future__ import annotations

from pathlib import Path

from bucketpipe.jobs.tables import render
from bucketpipe.lake.storage import LocalStore, S3Store, S3Target
from bucketpipe.serve.tables import JSON_KEYS, TableInfo, snippets


def info(name: str, version: int | None, snapshot: int, mirrored: int | None) -> TableInfo:
    return TableInfo(name, f"/lake/clean/{name}", version, snapshot, 2, 10, 2048, ("dt",), mirrored)


def s3(endpoint: str) -> S3Store:
    target = S3Target("2001234-bucketpipe", "lake", endpoint, "us-east-1", "key-id", "the-secret")
    return S3Store(target, client=object())


def test_json_has_exactly_the_documented_keys() -> None:
    out = info("quotes", 3, 4, 4).as_json()
    assert tuple(out) == JSON_KEYS
    assert out == {
        "dataset": "quotes",
        "delta_uri": "/lake/clean/quotes",
        "version": 3,
        "snapshot_version": 4,
        "files": 2,
        "rows": 10,
        "bytes": 2048,
        "partition_columns": ["dt"],
    }


def test_a_table_is_level_when_its_txn_is_the_current_snapshot() -> None:
    assert info("quotes", 3, 4, 4).level
    assert not info("quotes", 3, 4, 3).level
    assert not info("quotes", None, 4, None).level


def test_the_listing_marks_tables_behind_their_snapshot() -> None:
    text = render([info("candles", 1, 2, 2), info("quotes", None, 4, None)], "/lake")
    lines = text.splitlines()
    assert lines[0] == "Delta Lake tables of /lake (docs/open-lake.md)"
    assert lines[3].split() == ["candles", "1", "2", "2", "10", "2.0", "KB", "/lake/clean/candles"]
    assert lines[4].split()[:4] == ["quotes", "-", "4", "*"]
    assert "bucketpipe tables --sync" in text
    assert "--sync" not in render([info("candles", 1, 2, 2)], "/lake")


def test_local_snippets_read_the_directory(tmp_path: Path) -> None:
    code = snippets(LocalStore(str(tmp_path)), "/lake/clean/quotes")
    assert set(code) == {"Polars", "DuckDB", "Spark"}
    assert 'pl.read_delta("/lake/clean/quotes")' in code["Polars"]
    assert "delta_scan('/lake/clean/quotes')" in code["DuckDB"]
    assert '.load("/lake/clean/quotes")' in code["Spark"]
    assert "hadoop-aws" not in code["Spark"]


def test_s3_snippets_name_the_endpoint_and_credential_variables_never_a_secret() -> None:
    code = snippets(s3("https://a3s.fi"), "s3://2001234-bucketpipe/lake/clean/quotes")
    joined = "\n".join(code.values())
    assert "the-secret" not in joined and "key-id" not in joined
    assert joined.count('os.environ["AWS_SECRET_ACCESS_KEY"]') == 3
    assert '"aws_endpoint_url": "https://a3s.fi"' in code["Polars"]
    assert "aws_allow_http" not in code["Polars"]
    assert "ENDPOINT 'a3s.fi', URL_STYLE 'path', USE_SSL true" in code["DuckDB"]
    assert 'load("s3a://2001234-bucketpipe/lake/clean/quotes")' in code["Spark"]
    assert '"spark.hadoop.fs.s3a.path.style.access", "true"' in code["Spark"]


def test_plain_http_endpoints_are_allowed_explicitly() -> None:
    code = snippets(s3("http://127.0.0.1:9000"), "s3://b/lake/clean/quotes")
    assert '"aws_allow_http": "true"' in code["Polars"]
    assert "ENDPOINT '127.0.0.1:9000', URL_STYLE 'path', USE_SSL false" in code["DuckDB"]
    assert '"spark.hadoop.fs.s3a.connection.ssl.enabled", "false"' in code["Spark"]
