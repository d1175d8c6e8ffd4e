"""The SQL sandbox: the pure validator, and the locked-down connection on local and S3 lakes."""

from __future__ import annotations

import io
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.lake.duck import connect, s3_secret_sql
from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry, commit
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.queries.session import open_sandbox, reader_settings
from bucketpipe.serve.sandbox import Sandbox, one_line, validate_sql
from jobs import cli
from tests.conftest import (
    S3_KEY_ID,
    S3_SECRET,
    SettingsFactory,
    s3_client,
    s3_overrides,
)
from tests.support.delta_readers import delta_extension_path

# --- the validator -------------------------------------------------------------------------------
ACCEPTED = [
    "SELECT 1",
    "select * from quotes;",
    "  -- a comment first\nSELECT symbol FROM quotes",
    "/* block */ SELECT 2",
    "FROM quotes",
    "TABLE quotes",
    "VALUES (1, 'a'), (2, 'b')",
    "WITH t AS (SELECT 1 AS x) SELECT * FROM t",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "SELECT symbol, avg(price) FROM quotes GROUP BY ALL ORDER BY 2 DESC LIMIT 3",
    "SELECT * FROM quotes q JOIN notes n USING (symbol)",
    "SELECT * FROM range(10)",
    "SELECT * FROM generate_series(1, 5)",
    "SELECT unnest([1, 2, 3])",
    "SELECT * FROM duckdb_columns()",
    "DESCRIBE quotes",
    "SUMMARIZE quotes",
    "SHOW TABLES",
    "SHOW ALL TABLES",
    "EXPLAIN SELECT * FROM quotes",
    "EXPLAIN ANALYZE SELECT count(*) FROM quotes",
    "PIVOT quotes ON symbol IN ('AAPL', 'MSFT') USING avg(price)",
    "UNPIVOT quotes ON price INTO NAME field VALUE amount",
    "SELECT 'read_csv(''/etc/passwd'')' AS harmless_text",
    "SELECT * FROM system.main.duckdb_tables",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_validate_accepts_read_only_queries(sql: str) -> None:
    text = validate_sql(sql)
    assert text
    assert not text.endswith(";")


# (query, words the one-line refusal must contain)
REFUSED = [
    # local files
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto"),
    ("SELECT * FROM read_text('/etc/hostname')", "read_text"),
    ("SELECT * FROM read_blob('/etc/shadow')", "read_blob"),
    ("SELECT * FROM read_json('/root/.aws/credentials')", "read_json"),
    ("SELECT * FROM read_parquet('/tmp/x.parquet')", "read_parquet"),
    ("SELECT * FROM '/etc/passwd'", "directly"),
    ("SELECT * FROM 'data.csv'", "directly"),
    ("SELECT * FROM '~/.ssh/id_rsa'", "directly"),
    ("SELECT * FROM glob('/*')", "glob"),
    ("SELECT * FROM parquet_metadata('/tmp/x.parquet')", "parquet_metadata"),
    ("SELECT * FROM sniff_csv('/etc/passwd')", "sniff_csv"),
    ("DESCRIBE SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SUMMARIZE '/etc/passwd'", "directly"),
    ("SELECT (SELECT count(*) FROM read_text('/etc/passwd'))", "read_text"),
    ("SELECT * FROM quotes WHERE symbol IN (SELECT * FROM read_csv('/x'))", "read_csv"),
    ("WITH t AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM t", "read_text"),
    ("EXPLAIN SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    # other buckets and URLs
    ("SELECT * FROM 's3://other-bucket/x.parquet'", "directly"),
    ("SELECT * FROM read_parquet('s3://other-bucket/*.parquet')", "read_parquet"),
    ("SELECT * FROM read_csv('https://example.com/data.csv')", "read_csv"),
    ("SELECT * FROM 'http://169.254.169.254/latest/meta-data/'", "directly"),
    ("SELECT * FROM read_json('http://metadata.google.internal/')", "read_json"),
    # writes, databases, extensions
    ("COPY quotes TO '/tmp/out.csv'", "COPY"),
    ("COPY (SELECT 1) TO 's3://other-bucket/x.csv'", "COPY"),
    ("EXPORT DATABASE '/tmp/dump'", "EXPORT"),
    ("IMPORT DATABASE '/tmp'", "IMPORT"),
    ("SELECT 1; IMPORT DATABASE '/tmp'", "IMPORT"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    ("ATTACH 'https://example.com/x.db'", "ATTACH"),
    ("DETACH memory", "DETACH"),
    ("USE memory", "USE"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("LOAD delta", "LOAD"),
    ("SELECT * FROM delta_scan('clean/quotes')", "reads files"),
    ("FORCE INSTALL spatial FROM community", "FORCE"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", "CREATE"),
    ("CREATE OR REPLACE VIEW quotes AS SELECT 1", "CREATE"),
    ("CREATE MACRO m() AS 1", "CREATE"),
    ("DROP VIEW quotes", "DROP"),
    ("INSERT INTO quotes VALUES (1)", "INSERT"),
    ("UPDATE quotes SET price = 0", "UPDATE"),
    ("DELETE FROM quotes", "DELETE"),
    ("ALTER VIEW quotes RENAME TO q", "ALTER"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("VACUUM", "VACUUM"),
    # settings
    ("SET enable_external_access = true", "SET"),
    ("SET lock_configuration = false", "SET"),
    ("RESET allowed_paths", "RESET"),
    ("SET GLOBAL threads = 64", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("PRAGMA version", "PRAGMA"),
    ("CALL pragma_version()", "CALL"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
    ("SELECT current_setting('s3_secret_access_key')", "current_setting"),
    ("SELECT * FROM pg_settings", "settings"),
    ("SELECT * FROM pg_catalog.pg_settings WHERE name LIKE 's3%'", "settings"),
    ("SELECT * FROM duckdb_logs", "logs"),
    # secrets and the environment
    ("SELECT * FROM duckdb_secrets()", "secrets"),
    ("SELECT * FROM which_secret('s3://lake/x', 's3')", "secrets"),
    ("SELECT getenv('AWS_SECRET_ACCESS_KEY')", "environment"),
    ("SELECT upper(getenv('HOME'))", "environment"),
    # statements smuggled in
    ("SELECT 1; SELECT 2", "one statement"),
    ("SELECT 1; COPY quotes TO '/tmp/x'", "one statement"),
    ("SELECT * FROM query('COPY quotes TO ''/tmp/x''')", "query"),
    ("SELECT * FROM query_table('quotes')", "query_table"),
    ("PREPARE p AS SELECT 1", "PREPARE"),
    ("BEGIN TRANSACTION", "BEGIN"),
    ("PIVOT quotes ON symbol USING avg(price)", "IN"),
    ("EXPLAIN COPY quotes TO '/tmp/x'", "SELECT"),
    ("SELECT * FROM other_db.main.t", "other databases"),
    ("", "empty"),
    (";", "empty"),
    ("SELECT 'x" * 40_000, "longer"),
]


@pytest.mark.parametrize(("sql", "words"), REFUSED)
def test_validate_refuses_hostile_queries(sql: str, words: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        validate_sql(sql)
    message = str(refused.value)
    assert words.lower() in message.lower()
    assert "\n" not in message
    assert "Traceback" not in message


def test_refused_list_is_long_enough() -> None:
    assert len(REFUSED) >= 40


def test_syntax_errors_are_one_line() -> None:
    with pytest.raises(QueryRefused) as refused:
        validate_sql("SELEC 1")
    assert "syntax error" in str(refused.value).lower()
    assert "\n" not in str(refused.value)


def test_one_line_keeps_the_hint_and_drops_the_caret() -> None:
    exc = duckdb.CatalogException(
        'Catalog Error: Table with name qoutes does not exist!\nDid you mean "quotes"?\n\n'
        "LINE 1: SELECT * FROM qoutes\n                      ^"
    )
    assert one_line(exc) == (
        'Catalog Error: Table with name qoutes does not exist! Did you mean "quotes"?'
    )


# --- a lake for the sandbox ----------------------------------------------------------------------
OTHER_BUCKET = "other-bucket"


def _parquet(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> Path:
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    return path


def build_lake(settings: Settings) -> tuple[ObjectStore, dict[str, str]]:
    """Two committed datasets plus files the sandbox must never reach; their paths."""
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
    forbidden = {
        "orphan": clean_key("quotes", "2026-01-01", "orphan"),  # in clean/, not committed
        "raw": "raw/demo/dt=2026-01-01/run.parquet",
    }
    for key, path, rows in (
        (clean_key("quotes", "2026-01-01", "f1"), quotes, 3),
        (clean_key("numbers", "2026-01-01", "f1"), numbers, 200_000),
    ):
        store.upload(key, path)
        dataset = key.split("/")[1]
        commit(
            store, dataset, run_id="t", add=[FileEntry(key=key, rows=rows, partition="2026-01-01")]
        )
    for key in forbidden.values():
        store.upload(key, quotes)
    paths = {name: store.duckdb_path(key) for name, key in forbidden.items()}
    outside = Path(settings.temp_dir) / "outside.parquet"
    outside.write_bytes(quotes.read_bytes())
    paths["outside"] = str(outside)
    if settings.lake_is_s3:
        client = s3_client(str(settings.aws_endpoint_url))
        if OTHER_BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
            client.create_bucket(Bucket=OTHER_BUCKET)
        client.put_object(Bucket=OTHER_BUCKET, Key="x.parquet", Body=quotes.read_bytes())
        paths["other_bucket"] = f"s3://{OTHER_BUCKET}/x.parquet"
    else:  # the local counterpart of another bucket: a directory beside the lake
        other = Path(settings.lake).parent / OTHER_BUCKET / "x.parquet"
        other.parent.mkdir(parents=True, exist_ok=True)
        other.write_bytes(quotes.read_bytes())
        paths["other_bucket"] = str(other)
    return store, paths


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One lake per kind for the module: the sandbox only reads, so tests can share it."""
    root = tmp_path_factory.mktemp(f"sandbox-{request.param}")
    values: dict[str, Any] = {
        "lake": str(root / "lake"),
        "temp_dir": str(root / "tmp"),
        "sql_timeout_seconds": 1.0,
        "sql_max_rows": 500,
        "log_format": "json",
    }
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = f"sandbox-{uuid.uuid4().hex[:12]}"
        s3_client(endpoint).create_bucket(Bucket=bucket)
        values |= s3_overrides(endpoint, bucket)
    return Settings(**values)


@pytest.fixture(scope="module")
def sandbox(lake: Settings) -> Iterator[Sandbox]:
    _, paths = build_lake(lake)
    box = open_sandbox(lake)
    box.forbidden = paths  # type: ignore[attr-defined]
    yield box
    box.close()


# --- ordinary queries still work -----------------------------------------------------------------
def test_views_answer_ordinary_queries(sandbox: Sandbox) -> None:
    result = sandbox.run("SELECT symbol, sum(price) AS total FROM quotes GROUP BY 1 ORDER BY 1")
    assert result.frame.to_dict("records") == [
        {"symbol": "AAPL", "total": 381.75},
        {"symbol": "MSFT", "total": 410.0},
    ]
    assert not result.truncated
    assert set(sandbox.views) == {"quotes", "numbers"}


def test_schema_lists_every_view(sandbox: Sandbox) -> None:
    schema = sandbox.schema()
    assert [c for c, _ in schema["quotes"]] == ["symbol", "price", "dt"]
    assert schema["numbers"][0] == ("n", "BIGINT")


def test_describe_and_explain_run(sandbox: Sandbox) -> None:
    assert sandbox.run("DESCRIBE quotes").rows == 3
    assert sandbox.run("EXPLAIN SELECT count(*) FROM numbers").rows >= 1


def test_enormous_results_are_capped(sandbox: Sandbox) -> None:
    result = sandbox.run("SELECT * FROM range(1000000000)")
    assert result.rows == 500
    assert result.truncated
    small = sandbox.run("SELECT * FROM numbers", max_rows=10)
    assert small.rows == 10 and small.truncated
    # A caller cannot raise the cap above the setting.
    assert sandbox.run("SELECT * FROM numbers", max_rows=10**9).rows == 500


def test_runaway_join_is_stopped_by_the_time_limit(sandbox: Sandbox) -> None:
    with pytest.raises(QueryRefused, match="time limit of 1 s"):
        sandbox.run("SELECT sum(a.n * b.n) FROM numbers a, numbers b")
    # The sandbox keeps working after an interrupted query.
    assert sandbox.run("SELECT count(*) AS c FROM numbers").frame["c"][0] == 200_000


def test_errors_are_one_line_messages(sandbox: Sandbox) -> None:
    with pytest.raises(QueryRefused) as refused:
        sandbox.run("SELECT * FROM qoutes")
    assert 'Did you mean "quotes"' in str(refused.value)
    assert "\n" not in str(refused.value)


# --- the connection wall, tested without the validator -------------------------------------------
def _raw(sandbox: Sandbox, sql: str) -> Any:
    return sandbox.con.cursor().execute(sql).fetchall()


@pytest.mark.parametrize("name", ["orphan", "raw", "outside", "other_bucket"])
def test_connection_reads_only_the_snapshot_files(lake: Settings, sandbox: Any, name: str) -> None:
    path = sandbox.forbidden[name]
    # The file is there: an ordinary connection (credentials for any bucket) reads it.
    plain = connect(lake)
    if lake.lake_is_s3:
        plain.execute(
            s3_secret_sql(
                name="anywhere",
                key_id=S3_KEY_ID,
                secret=S3_SECRET,
                region=lake.aws_region,
                endpoint_url=lake.aws_endpoint_url,
            )
        )
    assert plain.execute(f"SELECT count(*) FROM '{path}'").fetchone() == (3,)
    with pytest.raises(duckdb.PermissionException):
        _raw(sandbox, f"SELECT * FROM read_parquet('{path}')")
    with pytest.raises(QueryRefused):
        sandbox.run(f"SELECT * FROM '{path}'")


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET allowed_paths = ['/']",
        "RESET allowed_directories",
        "SET lock_configuration = false",
        "SET temp_directory = '/tmp/elsewhere'",
    ],
)
def test_connection_configuration_is_locked(sandbox: Sandbox, sql: str) -> None:
    with pytest.raises(duckdb.Error, match="locked"):
        _raw(sandbox, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/*')",
        "COPY (SELECT 1) TO '/tmp/bucketpipe-sandbox-escape.csv'",
        "ATTACH '/tmp/bucketpipe-sandbox-escape.duckdb' AS x",
        "SELECT * FROM read_csv('https://example.com/x.csv')",
        "INSTALL spatial",
    ],
)
def test_connection_refuses_files_urls_and_extensions(sandbox: Sandbox, sql: str) -> None:
    with pytest.raises(duckdb.Error):
        _raw(sandbox, sql)
    assert not Path("/tmp/bucketpipe-sandbox-escape.csv").exists()
    assert not Path("/tmp/bucketpipe-sandbox-escape.duckdb").exists()


def test_the_delta_extension_cannot_be_loaded(sandbox: Sandbox) -> None:
    # delta_scan reads a table's log and files outside `allowed_paths`: never in the sandbox.
    with pytest.raises(duckdb.Error):
        _raw(sandbox, f"LOAD '{delta_extension_path()}'")
    with pytest.raises(duckdb.Error):
        _raw(sandbox, "SELECT * FROM delta_scan('clean/quotes')")


def test_python_objects_are_not_reachable(sandbox: Sandbox) -> None:
    secret_frame = {"secret": [S3_SECRET]}  # noqa: F841 - a replacement scan would find it
    with pytest.raises(QueryRefused, match="does not exist"):
        sandbox.run("SELECT * FROM secret_frame")


def test_secrets_never_show(sandbox: Sandbox) -> None:
    views = sandbox.run("SELECT * FROM duckdb_views()").frame.to_csv()
    assert S3_SECRET not in views
    with pytest.raises(QueryRefused) as refused:
        sandbox.run("SELECT * FROM duckdb_secrets()")
    assert S3_SECRET not in str(refused.value)


def test_reader_settings_swap_in_read_only_credentials(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        aws_access_key_id="writer",
        aws_secret_access_key="writer-secret",
        reader_access_key_id="reader",
        reader_secret_access_key="reader-secret",
    )
    readers = reader_settings(settings)
    assert readers.aws_access_key_id is not None
    assert readers.aws_access_key_id.get_secret_value() == "reader"
    assert readers.aws_secret_access_key is not None
    assert readers.aws_secret_access_key.get_secret_value() == "reader-secret"
    assert reader_settings(make_settings()).aws_access_key_id is None


# --- `bucketpipe sql` -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("sql-cli")
    env = {
        "BUCKETPIPE_LAKE": str(root / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(root / "tmp"),
        "BUCKETPIPE_SQL_TIMEOUT_SECONDS": "1",
        "BUCKETPIPE_SQL_MAX_ROWS": "500",
        "BUCKETPIPE_LOG_FORMAT": "json",
    }
    build_lake(Settings(lake=env["BUCKETPIPE_LAKE"], temp_dir=env["BUCKETPIPE_TEMP_DIR"]))
    return env


def bucketpipe_sql(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *argv: str,
) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["sql", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_prints_csv_json_and_tables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    query = "SELECT symbol, CAST(sum(price) AS DOUBLE) AS total FROM quotes GROUP BY 1 ORDER BY 1"
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "csv", query)
    assert (code, out) == (0, "symbol,total\nAAPL,381.75\nMSFT,410.0\n")
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "json", query)
    assert json.loads(out) == [
        {"symbol": "AAPL", "total": 381.75},
        {"symbol": "MSFT", "total": 410.0},
    ]
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, query)
    assert code == 0 and "AAPL" in out and "381.75" in out and "total" in out


def test_cli_reads_stdin_and_reports_the_cap(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("SELECT n FROM numbers ORDER BY n"))
    code, out, err = bucketpipe_sql(
        monkeypatch, capsys, cli_env, "--format", "csv", "--max-rows", "3", "-"
    )
    assert (code, out) == (0, "n\n0\n1\n2\n")
    assert "result cut at 3 rows" in err


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "reads files or URLs"),
        ("COPY quotes TO '/tmp/x.csv'", "COPY statements are not allowed"),
        ("SELECT * FROM nope", "does not exist"),
        ("SELECT sum(a.n * b.n) FROM numbers a, numbers b", "time limit of 1 s"),
    ],
)
def test_cli_refusals_exit_non_zero_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cli_env: dict[str, str],
    query: str,
    words: str,
) -> None:
    code, out, err = bucketpipe_sql(monkeypatch, capsys, cli_env, query)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["level"] == "error"
    assert words in json.loads(lines[0])["message"]
