"""The DuckDB connection factory: SQL built as pure text, httpfs from the wheel."""

import duckdb

from bucketpipe.lake.duck import (
    httpfs_extension_path,
    lake_bucket_scope,
    quote_ident,
    quote_literal,
    s3_secret_sql,
    settings_sql,
    sql_list,
)


def test_quoting() -> None:
    assert quote_literal("it's") == "'it''s'"
    assert quote_ident('a"b') == '"a""b"'
    assert sql_list(["a", "b'c"]) == "['a', 'b''c']"


def test_s3_secret_for_allas() -> None:
    sql = s3_secret_sql(
        name="lake",
        key_id="AK",
        secret="SK",
        region="us-east-1",
        endpoint_url="https://a3s.fi",
        scope="s3://bucket",
    )
    assert sql == (
        "CREATE OR REPLACE SECRET \"lake\" (TYPE s3, REGION 'us-east-1', KEY_ID 'AK', "
        "SECRET 'SK', ENDPOINT 'a3s.fi', URL_STYLE 'path', USE_SSL true, SCOPE 's3://bucket')"
    )


def test_s3_secret_for_minio_over_http_keeps_the_port() -> None:
    sql = s3_secret_sql(
        name="lake",
        key_id="AK",
        secret="SK",
        region="us-east-1",
        endpoint_url="http://minio:9000",
    )
    assert "ENDPOINT 'minio:9000'" in sql
    assert "USE_SSL false" in sql
    assert "URL_STYLE 'path'" in sql


def test_s3_secret_for_aws_has_no_endpoint() -> None:
    sql = s3_secret_sql(name="s", key_id=None, secret=None, region="eu-north-1", endpoint_url=None)
    assert sql == "CREATE OR REPLACE SECRET \"s\" (TYPE s3, REGION 'eu-north-1')"


def test_settings_sql() -> None:
    assert settings_sql(memory_limit="512MB", threads=2, temp_dir="/tmp/x") == [
        "SET memory_limit = '512MB'",
        "SET threads = 2",
        "SET temp_directory = '/tmp/x'",
        "SET preserve_insertion_order = false",
    ]


def test_spill_cap_is_set_when_configured() -> None:
    statements = settings_sql(
        memory_limit="1GB", threads=1, temp_dir="/tmp/x", max_temp_size="1536MiB"
    )
    assert statements[-1] == "SET max_temp_directory_size = '1536MiB'"


def test_bucket_scope() -> None:
    assert lake_bucket_scope("s3://lake/prefix/more") == "s3://lake"
    assert lake_bucket_scope("/data/lake") is None


def test_httpfs_loads_from_the_wheel_without_network() -> None:
    path = httpfs_extension_path()
    assert path.is_file()
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute(f"LOAD {quote_literal(str(path))}")
    loaded = con.execute(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
    ).fetchone()
    assert loaded == (True,)
