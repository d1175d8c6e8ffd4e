"""The DuckDB connection factory: SQL built as pure text, httpfs from the wheel, every setting
global; what TLS failures mean."""

from pathlib import Path

import duckdb
import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.lake.duck import (
    connect,
    declared_types,
    httpfs_extension_path,
    httpfs_sql,
    lake_bucket_scope,
    quote_ident,
    quote_literal,
    s3_secret_sql,
    settings_sql,
    sql_list,
    tls_config_error,
    typed_nulls_sql,
    utc_date,
)
from bucketpipe.lake.tls import tls_problem


def test_quoting() -> None:
    assert quote_literal("it's") == "'it''s'"
    assert quote_ident('a"b') == '"a""b"'
    assert sql_list(["a", "b'c"]) == "['a', 'b''c']"


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_utc_date_is_the_utc_calendar_date_in_any_session_zone(zone: str) -> None:
    con = duckdb.connect()
    con.execute(f"SET TimeZone = {quote_literal(zone)}")
    values = [
        "TIMESTAMPTZ '2024-05-05 23:30:00-05'",  # already the 6th in UTC
        "TIMESTAMPTZ '2024-03-10 06:59:59.999999+00'",
        "TIMESTAMPTZ '1969-12-31 23:59:59.5+00'",  # before the epoch: rounds down, not to 0
        "TIMESTAMPTZ '0001-01-01 00:00:00+00'",
        "TIMESTAMP '2024-05-05 23:59:59.999999'",
        "TIMESTAMP_NS '2024-05-05 23:59:59.999999999'",
        "TIMESTAMP_S '1900-01-01 00:00:00'",
        "DATE '1500-03-01'",
        "CAST('infinity' AS TIMESTAMPTZ)",
        "CAST('-infinity' AS TIMESTAMP)",
        "CAST('infinity' AS DATE)",
        "CAST(NULL AS TIMESTAMPTZ)",
    ]
    for value in values:
        got = con.execute(f"SELECT {utc_date(value)}").fetchone()
        con.execute("SET TimeZone = 'UTC'")
        want = con.execute(f"SELECT CAST({value} AS DATE)").fetchone()
        con.execute(f"SET TimeZone = {quote_literal(zone)}")
        assert got == want, value


def test_typed_nulls_sql() -> None:
    assert typed_nulls_sql((("a", "INTEGER"), ('b "c', "TIMESTAMPTZ"))) == (
        'SELECT CAST(NULL AS INTEGER) AS "a", CAST(NULL AS TIMESTAMPTZ) AS "b ""c" WHERE false'
    )
    assert typed_nulls_sql(()) is None


@pytest.mark.parametrize(
    "typ", ["INTEGER); DROP VIEW x; --", "VARCHAR) AS a, 'x", "INT /* x */", "INT -- x", "A`B"]
)
def test_typed_nulls_sql_uses_no_type_that_could_leave_the_cast(typ: str) -> None:
    assert typed_nulls_sql((("a", "INTEGER"), ("b", typ))) is None


def test_declared_types_are_named_as_describe_names_them() -> None:
    con = duckdb.connect()
    columns = (("ts", "TIMESTAMPTZ"), ("n", "INT8"), ("d", "DECIMAL(18,3)"), ("s", "STRING"))
    assert declared_types(con, columns) == {
        "ts": "TIMESTAMP WITH TIME ZONE",
        "n": "BIGINT",
        "d": "DECIMAL(18,3)",
        "s": "VARCHAR",
    }
    # A type DuckDB does not know stays as given (it then matches no file).
    assert declared_types(con, (("x", "NOSUCHTYPE"),)) == {"x": "NOSUCHTYPE"}


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
        "SET GLOBAL memory_limit = '512MB'",
        "SET GLOBAL threads = 2",
        "SET GLOBAL temp_directory = '/tmp/x'",
        "SET GLOBAL preserve_insertion_order = false",
        "SET GLOBAL partitioned_write_flush_threshold = 122880",
    ]


def test_spill_cap_is_set_when_configured() -> None:
    statements = settings_sql(
        memory_limit="1GB", threads=1, temp_dir="/tmp/x", max_temp_size="1536MiB"
    )
    assert statements[-1] == "SET GLOBAL max_temp_directory_size = '1536MiB'"


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


def test_httpfs_sql_retries_and_the_ca() -> None:
    assert httpfs_sql(ca_bundle=None) == [
        "SET GLOBAL http_retries = 6",
        "SET GLOBAL http_retry_backoff = 2",
    ]
    assert httpfs_sql(ca_bundle="/etc/ca's.pem")[-1] == "SET GLOBAL ca_cert_file = '/etc/ca''s.pem'"


def test_every_setting_of_the_factory_reaches_the_cursors(tmp_path: Path) -> None:
    """The dashboard, `bucketpipe sql` and the sandbox query through `con.cursor()`: a cursor
    must run with the factory's retries, CA and sizes, not DuckDB's defaults."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    settings = Settings(
        lake="s3://bucket/lake",
        aws_endpoint_url="https://127.0.0.1:9",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
        aws_ca_bundle=str(bundle),
        temp_dir=str(tmp_path / "tmp"),
        duckdb_memory_limit="300MB",
        duckdb_threads=1,
        duckdb_max_temp_size="1GiB",
    )
    con = connect(settings)
    for cursor in (con.cursor(), con.cursor().cursor()):

        def read(name: str, cursor: duckdb.DuckDBPyConnection = cursor) -> object:
            row = cursor.execute(f"SELECT current_setting('{name}')").fetchone()
            assert row is not None
            return row[0]

        assert read("http_retries") == 6
        assert read("http_retry_backoff") == 2
        assert read("ca_cert_file") == str(bundle)
        assert read("memory_limit") in {"286.1 MiB", "300.0 MB"}
        assert read("threads") == 1
        assert read("preserve_insertion_order") is False
        assert read("partitioned_write_flush_threshold") == 122880
        assert str(read("temp_directory")).startswith(str(tmp_path / "tmp"))
        assert read("max_temp_directory_size") in {"1.0 GiB", "1024.0 MiB"}


@pytest.mark.parametrize(
    ("message", "meaning"),
    [
        # Python's ssl (boto3, requests)
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
         "in certificate chain", "not trusted: set AWS_CA_BUNDLE"),
        ("certificate verify failed: Hostname mismatch, certificate is not valid for 'x'",
         "does not name the host"),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "does not speak TLS"),
        ("SSL validation failed for https://127.0.0.1:7480/ [X509: NO_CERTIFICATE_OR_CRL_FOUND] "
         "no certificate or crl found (_ssl.c:4154)", "AWS_CA_BUNDLE cannot be used"),
        # curl inside DuckDB's httpfs
        ("IO Error: SSL peer certificate or SSH remote key was not OK error for HTTP HEAD to "
         "'https://127.0.0.1:7480/b/x.csv'", "not trusted: set AWS_CA_BUNDLE"),
        ("IO Error: Problem with the SSL CA cert (path? access rights?)", "AWS_CA_BUNDLE cannot"),
        ("IO Error: SSL connect error", "does not speak TLS"),
    ],
)  # fmt: skip
def test_tls_failures_mean_one_thing_to_do(message: str, meaning: str) -> None:
    problem = tls_problem(message)
    assert problem is not None and meaning in problem
    assert tls_config_error(duckdb.IOException(message)) is not None


def test_other_errors_are_no_tls_problem() -> None:
    assert tls_problem("IO Error: Connection refused") is None
    assert tls_config_error(duckdb.IOException("HTTP 404 Not Found")) is None
    assert tls_config_error(ValueError("certificate verify failed")) is None
