"""The SQL worker's walls that hold without the validator, where the other tests do not look.

- An S3 lake with NO reader key: the worker then reads with the lake's own (writer) key, which
  must stay a credential it cannot reveal, even with validation switched off.
- A worker that failed or hit a limit is never used again, and its private directory (its
  spill files) is gone with it; directories of a dashboard that was killed are swept.
- The OS limits the worker set on itself: no core dumps, a heap ceiling.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.settings import Settings
from bucketpipe.serve.queries.session import open_sandbox
from bucketpipe.serve.sandbox.pool import sweep
from bucketpipe.serve.sandbox.session import QUEUE_WAIT_S, SqlSession
from tests.integration.test_sandbox_worker import PROBES
from tests.support.s3_servers import MOTO_KEYS, Keys, S3Server
from tests.support.sandbox_lake import build_lake, fill, writer_keys

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(request: pytest.FixtureRequest) -> Keys:
    """The writer key of the S3 server when a test uses it, else the stand-in."""
    if "writer_only" in request.fixturenames:
        keys: Keys = request.getfixturevalue("writer_only")[2]
        return keys
    return MOTO_KEYS["writer"]


@pytest.fixture(autouse=True)
def _writer_env(writer: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", writer.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", writer.secret_key)


def answer(box: SqlSession, sql: str) -> str:
    try:
        return box.run(sql).frame.to_csv()
    except QueryRefused as exc:
        message = str(exc)
    assert "\n" not in message
    return message


# --- no reader key: the writer key is in the worker, and stays there ------------------------
WriterOnly = tuple[SqlSession, dict[str, str], Keys]  # the session, its planted paths, its key


@pytest.fixture(scope="module")
def writer_only(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WriterOnly]:
    root = tmp_path_factory.mktemp("sandbox-writer-only")
    settings = Settings(
        **s3_server.settings(s3_server.create_bucket("sandbox-w")),
        temp_dir=str(root / "tmp"),
        sql_timeout_seconds=5.0,
        duckdb_memory_limit="500MB",
    )
    assert settings.reader_access_key_id is None
    paths = build_lake(settings)
    session = open_sandbox(settings, workers=1, validate=False)
    yield session, paths, writer_keys(settings)
    session.close()


def test_without_a_reader_key_the_writer_key_still_reads_the_lake(
    writer_only: WriterOnly,
) -> None:
    """The control: the probes below face a worker that really holds a working key."""
    session = writer_only[0]
    assert session.run("SELECT count(*) AS n FROM numbers").frame["n"][0] == 200_000


@pytest.mark.parametrize("sql", PROBES)
def test_without_a_reader_key_no_probe_shows_the_writer_key(
    writer_only: WriterOnly, sql: str
) -> None:
    session, paths, writer = writer_only
    text = answer(session, fill(sql, paths))
    assert writer.secret_key not in text and writer.access_key not in text, text[:400]


def test_without_a_reader_key_the_key_is_nowhere_in_the_worker_process(
    writer_only: WriterOnly,
) -> None:
    session, _, writer = writer_only
    session.run("SELECT 1")
    assert session.last is not None
    pid = session.last.worker_pid
    for name in ("environ", "cmdline"):
        data = Path(f"/proc/{pid}/{name}").read_bytes()
        assert writer.secret_key.encode() not in data and writer.access_key.encode() not in data


# --- recycling and clean-up -----------------------------------------------------------------
@pytest.fixture(scope="module")
def local_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("sandbox-recycle")
    settings = Settings(
        lake=str(root / "lake"),
        temp_dir=str(root / "tmp"),
        sql_timeout_seconds=2.0,
        duckdb_memory_limit="300MB",
        sql_max_temp_size="64MiB",
    )
    build_lake(settings)
    return settings


@pytest.fixture(scope="module")
def local_box(local_settings: Settings) -> Iterator[SqlSession]:
    session = open_sandbox(local_settings, workers=2)
    yield session
    session.close()


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT count(*) FROM range(10000000000000)", "timeout"),
        ("SELECT len(range(200000000))", "memory"),
        ("SELECT CAST('x' AS INTEGER)", "error"),
        ("SELECT * FROM range(100000000) t ORDER BY random()", None),
    ],
)
def test_a_worker_that_failed_is_replaced_and_its_directory_removed(
    local_box: SqlSession, local_settings: Settings, sql: str, kind: str | None
) -> None:
    local_box.wait_ready(every=True)
    with pytest.raises(QueryRefused):
        local_box.run(sql)
    failed = local_box.last
    assert failed is not None and failed.kind != "ok"
    if kind is not None:
        assert failed.kind == kind
    # The failed worker's directory went with it: what is left is the pool's (at most two
    # workers, one maybe starting), and no spill file.
    base = Path(local_settings.temp_dir) / "sql"
    assert len(list(base.glob("w-*"))) <= 2
    assert sum(p.stat().st_size for p in base.rglob("*") if p.is_file()) < 1 << 20
    local_box.wait_ready(every=True)
    for _ in range(3):  # neither worker of the pool is the one that failed
        local_box.run("SELECT 1")
        assert local_box.last is not None and local_box.last.worker_pid != failed.worker_pid
    assert _pid_alive(failed.worker_pid) is False


def test_no_query_waits_for_a_worker_longer_than_the_queue_wait(
    local_settings: Settings,
) -> None:
    """With every worker busy or starting, a query is told so at once: the bound on its wall
    time holds however slowly a replacement starts."""
    session = open_sandbox(local_settings, workers=1, queue_wait_s=QUEUE_WAIT_S)
    try:
        with pytest.raises(QueryRefused, match="time limit"):
            session.run("SELECT count(*) FROM range(10000000000000)")
        started = time.monotonic()
        message = "ran"  # the replacement may be up already on an idle machine
        try:
            session.run("SELECT 1")
        except QueryRefused as exc:
            message = str(exc)
        assert message == "ran" or "busy" in message, message
        assert time.monotonic() - started <= QUEUE_WAIT_S + 2
    finally:
        session.close()


def test_a_refusal_keeps_the_worker(local_box: SqlSession) -> None:
    """Refusals never reach the engine: recycling them would only make queries slow."""
    local_box.wait_ready(every=True)
    local_box.run("SELECT 1")
    with pytest.raises(QueryRefused, match="not allowed"):
        local_box.run("SELECT current_setting('threads')")
    assert local_box.last is not None and local_box.last.kind == "refused"
    assert _pid_alive(local_box.last.worker_pid)


def test_directories_of_a_killed_dashboard_are_swept(tmp_path: Path) -> None:
    gone = tmp_path / "w-999999999-abcdef0123"  # no such process
    mine = tmp_path / f"w-{os.getpid()}-abcdef0123"
    for folder in (gone, mine):
        (folder / "duckdb").mkdir(parents=True)
        (folder / "duckdb" / "spill.tmp").write_bytes(b"x" * 1024)
    sweep(tmp_path)
    assert not gone.exists() and mine.exists()


def test_the_worker_sets_its_own_os_limits(local_box: SqlSession) -> None:
    local_box.run("SELECT 1")
    assert local_box.last is not None
    limits = _limits(local_box.last.worker_pid)
    assert limits["Max core file size"] == ("0", "0")
    soft, hard = limits["Max data size"]
    assert soft == hard != "unlimited"
    assert int(soft) < 16 << 30  # a ceiling derived from the memory limit, not the machine's


def _limits(pid: int) -> dict[str, tuple[str, str]]:
    out = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        out[name] = (soft, hard)
    return out


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
