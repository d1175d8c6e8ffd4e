"""The SQL sandbox's locked-down connection on local and S3 lakes, and `bucketpipe sql` (the
validator's own tests are unit tests: tests/unit/test_sandbox.py)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.jobs import cli
from bucketpipe.lake.duck import connect, s3_secret_sql
from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry, commit
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.queries.session import open_sandbox
from bucketpipe.serve.sandbox import Sandbox
from tests.support.delta_readers import delta_extension_path
from tests.support.s3_servers import MOTO_KEYS, S3Server, active_secrets, client_from_settings

pytestmark = pytest.mark.integration

# A secret a hostile query looks for (the S3 server's own secrets are known to the guard too).
S3_SECRET = MOTO_KEYS["writer"].secret_key


def revealed(secret: Any) -> str | None:
    return secret.get_secret_value() if secret is not None else None


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
        client = client_from_settings(dict(settings))
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


@pytest.fixture(scope="module", params=["local", "s3"])
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
        server: S3Server = request.getfixturevalue("s3_server")
        values |= server.settings(server.create_bucket("sandbox"))
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
                key_id=revealed(lake.aws_access_key_id),
                secret=revealed(lake.aws_secret_access_key),
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


def test_every_setting_of_the_sandbox_reaches_the_cursor_a_query_runs_on(
    sandbox: Sandbox, lake: Settings
) -> None:
    """`run` queries through `con.cursor()`: the cursor must be as locked down as the
    connection, not DuckDB's defaults (python_enable_replacements is one a plain SET misses)."""
    cursor = sandbox.con.cursor()

    def read(name: str) -> Any:
        row = cursor.execute(f"SELECT current_setting('{name}')").fetchone()
        assert row is not None
        return row[0]

    assert read("python_enable_replacements") is False
    assert read("enable_external_access") is False
    assert read("lock_configuration") is True
    assert sorted(read("allowed_paths")) == sorted(sandbox.allowed)
    assert read("threads") == lake.duckdb_threads
    if lake.lake_is_s3:
        assert (read("http_retries"), read("http_retry_backoff")) == (6, 2)
        assert read("ca_cert_file") == (lake.aws_ca_bundle or "")


def test_secrets_never_show(sandbox: Sandbox) -> None:
    views = sandbox.run("SELECT * FROM duckdb_views()").frame.to_csv()
    secrets = {S3_SECRET, *active_secrets()}
    assert not any(secret in views for secret in secrets)
    with pytest.raises(QueryRefused) as refused:
        sandbox.run("SELECT * FROM duckdb_secrets()")
    assert not any(secret in str(refused.value) for secret in secrets)


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
