"""`bucketpipe sql`: one query, a session of statements on stdin, and the REPL on a terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.jobs import cli
from tests.support.sandbox_lake import build_lake

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("sql-cli")
    env = {
        "BUCKETPIPE_LAKE": str(root / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(root / "tmp"),
        "BUCKETPIPE_SQL_TIMEOUT_SECONDS": "2",
        "BUCKETPIPE_SQL_MAX_ROWS": "500",
        "BUCKETPIPE_SQL_MAX_RESULT_BYTES": str(1 << 20),
        "BUCKETPIPE_LOG_FORMAT": "json",
    }
    build_lake(Settings(lake=env["BUCKETPIPE_LAKE"], temp_dir=env["BUCKETPIPE_TEMP_DIR"]))
    return env


def bucketpipe_sql(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *argv: str,
    stdin: str | None = None,
) -> tuple[int, str, list[dict[str, object]]]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(["sql", *argv])
    out = capsys.readouterr()
    return code, out.out, [json.loads(line) for line in out.err.splitlines()]


QUERY = "SELECT symbol, CAST(sum(price) AS DOUBLE) AS total FROM quotes GROUP BY 1 ORDER BY 1"


def test_one_query_as_csv_json_and_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "csv", QUERY)
    assert (code, out) == (0, "symbol,total\nAAPL,381.75\nMSFT,410.0\n")
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "json", QUERY)
    assert out.count("\n") == 1
    assert json.loads(out) == [
        {"symbol": "AAPL", "total": 381.75},
        {"symbol": "MSFT", "total": 410.0},
    ]
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, QUERY)
    assert code == 0 and "AAPL" in out and "381.75" in out and "total" in out


def table_cells(out: str) -> list[list[str]]:
    """The cells of each row of the table format, stripped."""
    rows = [line.split("│")[1:-1] for line in out.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in row] for row in rows]


SPECIAL = (
    "SELECT * FROM (VALUES (1, 'NaN'::DOUBLE, NULL::DOUBLE, 'inf'::DOUBLE, 9007199254740993), "
    "(2, -'inf'::DOUBLE, 0.5, NULL, NULL)) AS v(n, nan, nothing, big, id) ORDER BY n"
)


def test_nan_infinity_and_null_stay_apart_in_every_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    """NaN is a value and NULL is its absence: no format prints one as the other, and a large
    BIGINT beside a NULL is not rounded through a float."""
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "json", SPECIAL)
    assert code == 0
    assert json.loads(out) == [
        {"n": 1, "nan": "NaN", "nothing": None, "big": "Infinity", "id": 9007199254740993},
        {"n": 2, "nan": "-Infinity", "nothing": 0.5, "big": None, "id": None},
    ]
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "csv", SPECIAL)
    assert (code, out) == (0, "n,nan,nothing,big,id\n1,nan,,inf,9007199254740993\n2,-inf,0.5,,\n")
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, SPECIAL)
    assert table_cells(out) == [
        ["1", "NaN", "", "inf", "9007199254740993"],
        ["2", "-inf", "0.5", "", ""],
    ]


TEXT_NULLS = (
    "SELECT * FROM (VALUES (1, 'x', 'NaN', NULL::DATE), (2, NULL, NULL, DATE '2026-01-02')) "
    "AS v(n, word, spelled, day) ORDER BY n"
)


def test_a_null_of_text_or_date_is_blank_in_the_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    """Pandas holds a missing text as NaN; the table printed it as `NaN`, as if the text were
    that word (DESCRIBE's empty `key` and `default` columns read NaN on every line)."""
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, TEXT_NULLS)
    assert code == 0
    assert table_cells(out) == [
        ["1", "x", "NaN", ""],
        ["2", "", "", "2026-01-02"],
    ]
    code, out, _ = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "csv", TEXT_NULLS)
    assert (code, out) == (0, "n,word,spelled,day\n1,x,NaN,\n2,,,2026-01-02\n")


def test_dash_reads_the_query_from_stdin_and_reports_the_cap(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    code, out, logs = bucketpipe_sql(
        monkeypatch,
        capsys,
        cli_env,
        "--format",
        "csv",
        "--max-rows",
        "3",
        "-",
        stdin="SELECT n FROM numbers ORDER BY n",
    )
    assert (code, out) == (0, "n\n0\n1\n2\n")
    assert "result cut at 3 rows" in str(logs[-1]["message"])


def test_statements_on_stdin_run_in_one_session(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    script = (
        "SELECT 1 AS a;\n"
        "/* a comment; with a semicolon */ SELECT 'x;y' AS b;\n"
        "SELECT current_setting('s3_secret_access_key');\n"
        "SELECT * FROM nope;\n"
        "SELECT count(*) AS n FROM numbers;\n"
    )
    code, out, logs = bucketpipe_sql(monkeypatch, capsys, cli_env, "--format", "json", stdin=script)
    assert code == 1
    assert [json.loads(line) for line in out.splitlines()] == [
        [{"a": 1}],
        [{"b": "x;y"}],
        [{"n": 200_000}],
    ]
    errors = [str(r["message"]) for r in logs if r["level"] == "error"]
    assert errors[0].startswith("statement 3: current_setting() is not allowed")
    assert errors[1].startswith("statement 4: no dataset named nope")


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "reads files or URLs"),
        ("COPY quotes TO '/tmp/x.csv'", "COPY statements are not allowed"),
        ("SELECT * FROM nope", "no dataset named nope"),
        ("SELECT sum(a.n * b.n) FROM numbers a, numbers b", "time limit of 2 s"),
        ("SELECT 1 FROM quotes WHERE\n  symbol = = 'AAPL'", "(line 2, column 12)"),
        ("SELECT repeat('z', 2000000) AS huge", "larger than the result cap (1 MiB)"),
    ],
)
def test_refusals_exit_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cli_env: dict[str, str],
    query: str,
    words: str,
) -> None:
    code, out, logs = bucketpipe_sql(monkeypatch, capsys, cli_env, query)
    assert code == 1 and out == ""
    assert [r["level"] for r in logs] == ["error"]
    message = str(logs[0]["message"])
    assert words in message and "\n" not in message
    assert cli_env["BUCKETPIPE_LAKE"] not in message and "Traceback" not in message


def test_the_timeout_option_cannot_pass_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> None:
    code, _, logs = bucketpipe_sql(
        monkeypatch,
        capsys,
        {**cli_env, "BUCKETPIPE_LOG_LEVEL": "DEBUG"},
        "--timeout",
        "3600",
        "SELECT count(*) FROM range(10000000000000)",
    )
    errors = [r for r in logs if r["level"] == "error"]
    assert code == 1 and len(errors) == 1 and "time limit of 2 s" in str(errors[0]["message"])
    # The query's own wall time (the command's start-up, its worker's included, is not).
    (query,) = [r for r in logs if r["message"] == "user query"]
    assert query["outcome"] == "timeout" and float(str(query["wall_s"])) < 2 + 5


def _read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_on_a_terminal_it_is_a_repl_with_history(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {"PATH": os.defpath, "HOME": str(tmp_path), "LANG": "C.UTF-8", **cli_env}
    env["BUCKETPIPE_LOG_FORMAT"] = "text"
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "bucketpipe"]
    process = subprocess.Popen(
        [*command, "sql", "--format", "csv"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=ROOT,
        close_fds=True,
    )
    os.close(follower)
    try:
        assert b"sql> " in _read_until(leader, b"sql> ")
        os.write(leader, b"SELECT 40 +\n")
        assert b"...> " in _read_until(leader, b"...> ")
        os.write(leader, b"2 AS answer;\n")
        assert b"42" in _read_until(leader, b"42")
        os.write(leader, b"COPY quotes TO '/tmp/x';\n")
        assert b"COPY statements are not allowed" in _read_until(leader, b"not allowed")
        os.write(leader, b"SELECT count(*) AS n FROM numbers;\n")
        assert b"200000\r\nsql> " in _read_until(leader, b"200000\r\nsql> ")
        os.write(leader, b"\x04")  # Ctrl-D at the prompt
        _read_until(leader, b"never", timeout=10)  # drain until it has gone
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    history = (tmp_path / ".bucketpipe_sql_history").read_text()
    assert "SELECT count(*) AS n FROM numbers;" in history
