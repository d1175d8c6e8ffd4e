"""The SQL sandbox's worker processes on local and S3 lakes: least privilege and hard bounds.

The S3 lake has a writer key (the lake's own) and a distinct reader key; the writer key is in
this process's environment as well, the way a Kubernetes Secret would put it there. Several
tests switch validation off to prove the walls underneath hold on their own.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.settings import Settings
from bucketpipe.lake.duck import connect, quote_literal, s3_secret_sql
from bucketpipe.serve.queries.session import open_sandbox
from bucketpipe.serve.sandbox.limits import RSS_HEADROOM, parse_bytes
from bucketpipe.serve.sandbox.session import SqlSession
from tests.support.delta_readers import delta_extension_path
from tests.support.s3_servers import S3Server
from tests.support.sandbox_lake import build_lake, fill, lake_keys, s3_sandbox_values, writer_keys

pytestmark = pytest.mark.integration


def secrets_of(settings: Settings) -> list[str]:
    return [k.secret_key for k in lake_keys(settings)]


def key_ids_of(settings: Settings) -> list[str]:
    return [k.access_key for k in lake_keys(settings)]


@pytest.fixture(autouse=True)
def _writer_env(lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer key in this process's environment, as a deployment's Secret puts it."""
    writer = writer_keys(lake[0])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", writer.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", writer.secret_key)


@pytest.fixture(scope="module", params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp(f"sandbox-{request.param}")
    values: dict[str, Any] = {
        "lake": str(root / "lake"),
        "temp_dir": str(root / "tmp"),
        "sql_timeout_seconds": 3.0,
        "sql_max_rows": 500,
        "duckdb_memory_limit": "500MB",
        "log_format": "json",
    }
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        values |= s3_sandbox_values(server, "sandbox")
    settings = Settings(**values)
    return settings, build_lake(settings)


@pytest.fixture(scope="module")
def box(lake: Any) -> Iterator[SqlSession]:
    session = open_sandbox(lake[0], workers=2)
    yield session
    session.close()


@pytest.fixture(scope="module")
def raw_box(lake: Any) -> Iterator[SqlSession]:
    """A session whose workers skip validation: only the lower walls stand."""
    session = open_sandbox(lake[0], workers=2, validate=False)
    yield session
    session.close()


def answer(box: SqlSession, sql: str) -> str:
    """Everything a query shows: its rows as CSV, or its one-line error."""
    try:
        return box.run(sql).frame.to_csv()
    except QueryRefused as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return message


# --- ordinary queries ----------------------------------------------------------------------
def test_views_answer_ordinary_queries(box: SqlSession) -> None:
    result = box.run("SELECT symbol, sum(price) AS total FROM quotes GROUP BY 1 ORDER BY 1")
    assert result.frame.to_dict("records") == [
        {"symbol": "AAPL", "total": 381.75},
        {"symbol": "MSFT", "total": 410.0},
    ]
    assert set(box.views) == {"quotes", "numbers"}
    assert [c for c, _ in box.schema()["quotes"]] == ["symbol", "price", "dt"]
    assert box.run("DESCRIBE quotes").rows == 3
    assert box.run("EXPLAIN SELECT count(*) FROM numbers").explain


def test_views_show_dataset_names_only(box: SqlSession, lake: Any) -> None:
    _, paths = lake
    shown = [
        answer(box, "SELECT sql FROM duckdb_views() WHERE NOT internal"),
        answer(box, "EXPLAIN SELECT * FROM quotes WHERE symbol = 'AAPL'"),
        answer(box, "DESCRIBE quotes"),
        answer(box, "SELECT * FROM information_schema.tables"),
        answer(box, "SELECT CAST(symbol AS INTEGER) FROM quotes"),
        answer(box, "SELECT CAST((SELECT sql FROM duckdb_views() LIMIT 1) AS INTEGER)"),
        answer(box, "SELECT filename FROM quotes"),
    ]
    for text in shown:
        for needle in (paths["lake"], "clean/quotes", "sandbox-", *secrets_of(lake[0])):
            assert needle not in text, (needle, text[:300])


# --- the walls under the validator ---------------------------------------------------------
PROBES = [
    "SELECT name, value FROM duckdb_settings()",
    "SELECT * FROM duckdb_settings() WHERE name LIKE 's3%' OR name LIKE '%proxy%'",
    "SELECT current_setting('s3_secret_access_key'), current_setting('s3_access_key_id')",
    "SELECT current_setting('s3_session_token')",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_secrets(redact := false)",
    "SELECT CAST(secret_string AS INTEGER) FROM duckdb_secrets()",
    "SELECT * FROM which_secret('{orphan}', 's3')",
    "SELECT getenv('AWS_SECRET_ACCESS_KEY')",
    "PRAGMA version",
    "SELECT * FROM pragma_platform()",
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT * FROM read_blob('/proc/self/cmdline')",
    "SELECT * FROM read_text('/proc/' || getvariable('x') || '/environ')",
    "SELECT * FROM read_parquet('{orphan}')",
    "SELECT * FROM read_parquet('{raw}')",
    "SELECT * FROM read_json('{manifest}')",
    "SELECT * FROM read_parquet('{outside}')",
    "SELECT * FROM read_parquet('{other}')",
    "SELECT * FROM glob('{lake}/**')",
    "SET enable_external_access = true",
    "SET allowed_paths = ['/']",
    "SET allow_unredacted_secrets = true",
    "SET lock_configuration = false",
    "COPY (SELECT 1) TO '/tmp/bucketpipe-sandbox-escape.csv'",
    "ATTACH '/tmp/bucketpipe-sandbox-escape.duckdb' AS x",
    "INSTALL spatial",
    "LOAD '/tmp/evil.duckdb_extension'",
    "SELECT * FROM duckdb_extensions()",
]


@pytest.mark.parametrize("sql", PROBES)
def test_without_validation_nothing_secret_or_outside_shows(
    raw_box: SqlSession, lake: Any, sql: str
) -> None:
    text = answer(raw_box, fill(sql, lake[1]))
    for needle in (*secrets_of(lake[0]), key_ids_of(lake[0])[0]):
        assert needle not in text, text[:400]
    assert not Path("/tmp/bucketpipe-sandbox-escape.csv").exists()
    assert not Path("/tmp/bucketpipe-sandbox-escape.duckdb").exists()
    if "read_" in sql or "glob" in sql:
        assert "AAPL" not in text and "root:" not in text


# The last wall: a result that would show where the lake is, in any value or column name.
SHOWN = [
    "SELECT 'at ' || {lake} AS v",
    "SELECT [NULL, {lake}] AS v",
    "SELECT {{'k': 1, 'v': [{lake}]}} AS v",
    "SELECT MAP {{'k': {lake}}} AS v",
    "SELECT CAST({lake} AS BLOB) AS v",
    "SELECT i, CASE WHEN i = 299 THEN {lake} END AS v FROM range(300) t(i)",
]


@pytest.mark.parametrize("sql", SHOWN)
def test_without_validation_a_result_showing_the_lake_is_withheld(
    raw_box: SqlSession, lake: Any, sql: str
) -> None:
    place = lake[1]["lake"]
    text = answer(raw_box, sql.format(lake=quote_literal(place)))
    assert text == "the result would show storage details or credentials; it was withheld"
    # The control: the same shape with another text is answered.
    assert "elsewhere" in answer(raw_box, sql.format(lake="'elsewhere'"))


@pytest.mark.parametrize("name", ["orphan", "raw", "outside", "other"])
def test_the_planted_files_are_there_for_an_ordinary_connection(lake: Any, name: str) -> None:
    """The control for the probes above: with the writer key, each planted file reads."""
    settings, paths = lake
    plain = connect(settings)
    try:
        if settings.lake_is_s3:
            writer = writer_keys(settings)
            plain.execute(
                s3_secret_sql(
                    name="anywhere",
                    key_id=writer.access_key,
                    secret=writer.secret_key,
                    region=settings.aws_region,
                    endpoint_url=settings.aws_endpoint_url,
                )
            )
        assert plain.execute(f"SELECT count(*) FROM '{paths[name]}'").fetchone() == (3,)
    finally:
        plain.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET allowed_paths = ['/']",
        "RESET allowed_directories",
        "SET temp_directory = '/tmp/elsewhere'",
        "SET memory_limit = '100GB'",
        "PRAGMA threads = 64",
    ],
)
def test_without_validation_the_configuration_stays_locked(raw_box: SqlSession, sql: str) -> None:
    assert "locked" in answer(raw_box, sql)


def test_the_engine_is_set_up_for_the_lake_and_locked(raw_box: SqlSession, lake: Any) -> None:
    """The worker's engine gets every setting the lake needs (threads; for S3 httpfs's retries
    and the CA it trusts, RGW over HTTPS's private one) and is locked, reading the snapshots'
    files only."""
    settings, paths = lake

    def read(name: str) -> str:
        frame = raw_box.run(f"SELECT CAST(current_setting('{name}') AS VARCHAR) AS v").frame
        return str(frame["v"][0])

    assert (read("enable_external_access"), read("lock_configuration")) == ("false", "true")
    assert read("python_enable_replacements") == "false"
    assert read("threads") == str(settings.duckdb_threads)
    files = raw_box.run(
        "SELECT count(*) AS n, bool_and(starts_with(p, $$" + paths["lake"] + "$$)) AS inside "
        "FROM (SELECT unnest(current_setting('allowed_paths')) AS p)"
    ).frame
    assert (int(files["n"][0]), bool(files["inside"][0])) == (2, True)
    if settings.lake_is_s3:
        assert (read("http_retries"), read("http_retry_backoff")) == ("6", "2.0")
        assert read("ca_cert_file") == (settings.aws_ca_bundle or "")


def test_without_validation_the_delta_extension_cannot_be_loaded(raw_box: SqlSession) -> None:
    # delta_scan reads a table's log and files outside `allowed_paths`: never in the sandbox.
    loaded = answer(raw_box, f"LOAD '{delta_extension_path()}'")
    assert "Permission Error" in loaded or "not allowed" in loaded or "outside" in loaded
    scanned = answer(raw_box, "SELECT * FROM delta_scan('clean/quotes')")
    assert "AAPL" not in scanned and "not in the catalog" in scanned


def test_the_worker_environment_is_an_allowlist(raw_box: SqlSession, lake: Any) -> None:
    raw_box.run("SELECT 1")
    assert raw_box.last is not None
    pid = raw_box.last.worker_pid
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = sorted(entry.split(b"=", 1)[0].decode() for entry in environ if entry)
    assert names == sorted(
        ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE", "MALLOC_ARENA_MAX"]
    )
    for path in (f"/proc/{pid}/environ", f"/proc/{pid}/cmdline"):
        data = Path(path).read_bytes()
        assert not any(s.encode() in data for s in (*secrets_of(lake[0]), *key_ids_of(lake[0])))


def test_no_statement_changes_what_the_next_one_sees(raw_box: SqlSession) -> None:
    for sql in (
        "CREATE VIEW planted AS SELECT 42 AS x",
        "CREATE MACRO upper(x) AS 'hijacked'",
        "CREATE TEMP TABLE planted AS SELECT 42 AS x",
        "SET VARIABLE planted = 42",
        "COMMIT; CREATE VIEW planted AS SELECT 42 AS x",
    ):
        answer(raw_box, sql)
        assert raw_box.run("SELECT upper('a') AS u").frame["u"][0] == "A"
        assert "does not exist" in answer(raw_box, "SELECT * FROM planted")
        assert answer(raw_box, "SELECT getvariable('planted') AS v").count("42") == 0


def test_the_logging_crash_is_contained(raw_box: SqlSession) -> None:
    for sql in (
        "EXPLAIN (ANALYZE, FORMAT json) SELECT * FROM enable_logging()",
        "EXPLAIN (ANALYZE, FORMAT json) SELECT * FROM enable_logging(level := 'trace', "
        "storage := 'file', storage_path := '/tmp/bucketpipe-logs')",
        "SELECT 42 AS answer",
    ):
        answer(raw_box, sql)
    assert raw_box.run("SELECT 42 AS answer").frame["answer"][0] == 42


def test_a_killed_worker_costs_one_query(box: SqlSession) -> None:
    box.run("SELECT 1")
    assert box.last is not None
    os.kill(box.last.worker_pid, signal.SIGKILL)
    # The kernel may take a moment to end a killed DuckDB (its threads exit one by one, and
    # until then it cannot be reaped): the pool may lend it out once more. That query, and no
    # other, gets one line saying the engine stopped; the dead worker is then replaced.
    answers = []
    for _ in range(box.pool.size + 1):
        answers.append(answer(box, "SELECT count(*) AS n FROM numbers"))
        box.wait_ready()  # a worker is back (a loaded machine may take seconds to start one)
    counted = ",n\n0,200000\n"
    stopped = [a for a in answers if a != counted]
    assert len(stopped) <= 1 and answers[-1] == counted, answers
    assert all(a.startswith("the SQL engine stopped") for a in stopped), answers


# --- hard bounds ---------------------------------------------------------------------------
def cap_of(settings: Settings) -> int:
    return parse_bytes(settings.duckdb_memory_limit) + RSS_HEADROOM


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT len(range(100000000))",
        "SELECT repeat('x', 100000000) FROM range(40)",
        "SELECT list(range) FROM range(200000000)",
        # Three-way: DuckDB counts a cross product of constant columns a vector at a time, so
        # two copies (4e10 rows) finish in about 2 s on a quick machine; three (8e15) never do.
        "SELECT count(*) FROM numbers a, numbers b, numbers c",
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
    ],
)
def test_runaway_queries_stay_within_memory_and_time(box: SqlSession, lake: Any, sql: str) -> None:
    settings = lake[0]
    box.wait_ready(every=True)  # the workers the last query used up are back
    started = time.monotonic()
    with pytest.raises(QueryRefused, match=r"time limit|more memory"):
        box.run(sql)
    assert time.monotonic() - started <= settings.sql_timeout_seconds + 5
    assert box.last is not None and box.last.peak_rss <= cap_of(settings)


def test_results_are_capped_in_rows_and_bytes(lake: Any) -> None:
    settings = lake[0].model_copy(update={"sql_max_result_bytes": 1 << 20})
    session = open_sandbox(settings)
    try:
        rows = session.run("SELECT * FROM range(1000000000)")
        assert (rows.rows, rows.cut) == (500, "rows")
        assert session.run("SELECT * FROM numbers", max_rows=10**9).rows == 500
        wide = session.run("SELECT repeat('y', 100000) AS wide FROM range(400)")
        assert wide.cut == "bytes" and 0 < wide.rows < 20
        with pytest.raises(QueryRefused, match="one row of the result is larger"):
            session.run("SELECT repeat('z', 2000000) AS huge")
    finally:
        session.close()


def _bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_spill_is_bounded_and_removed_when_the_worker_goes(lake: Any, tmp_path: Path) -> None:
    settings = lake[0].model_copy(
        update={
            "duckdb_memory_limit": "100MB",
            "sql_max_temp_size": "64MiB",
            "temp_dir": str(tmp_path / "tmp"),
        }
    )
    session = open_sandbox(settings)
    base = tmp_path / "tmp" / "sql"
    try:
        with pytest.raises(QueryRefused, match=r"spilled|more memory|time limit"):
            session.run("SELECT * FROM range(100000000) t ORDER BY random()")
        # The worker that spilled is gone, and its spill files with it.
        assert _bytes_under(base) < 1 << 20
        session.run("SELECT 1")
    finally:
        session.close()
    assert not list(base.iterdir())


def test_the_time_limit_cannot_be_raised_by_the_caller(box: SqlSession, lake: Any) -> None:
    box.wait_ready(every=True)
    started = time.monotonic()
    with pytest.raises(QueryRefused, match="time limit of 3 s"):
        box.run("SELECT count(*) FROM range(100000000000)", timeout_s=3600)
    assert time.monotonic() - started <= lake[0].sql_timeout_seconds + 5
