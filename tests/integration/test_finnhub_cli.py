"""`bucketpipe ingest finnhub` as users and CronJobs run it: exit codes, one-line errors, JSON
logs off a terminal and a progress bar on one."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.finnhub_server import FREE_KEY, FakeFinnhub

pytestmark = pytest.mark.integration


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": env.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "bucketpipe", "ingest", "finnhub", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def json_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def env(tmp_path: Path, finnhub_server: FakeFinnhub) -> dict[str, str]:
    return {
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "HOME": str(tmp_path),
        "FINNHUB_API_KEY": FREE_KEY,
        "BUCKETPIPE_FINNHUB_URL": finnhub_server.url,
        "BUCKETPIPE_FINNHUB_CALLS_PER_MINUTE": "60000",
        "BUCKETPIPE_FINNHUB_CALLS_PER_SECOND": "200",
        "BUCKETPIPE_FINNHUB_BACKOFF_SECONDS": "0.01",
        "BUCKETPIPE_SYMBOLS": "AAPL,MSFT",
    }


def test_without_a_key_one_line_says_how_to_set_it(env: dict[str, str]) -> None:
    del env["FINNHUB_API_KEY"]
    result = run([], env)
    assert result.returncode == 2
    (line,) = json_lines(result.stderr)
    assert line["level"] == "error"
    assert "FINNHUB_API_KEY" in line["message"]
    assert "bucketpipe ingest demo" in line["message"]


def test_a_free_key_run_exits_0_with_json_logs_and_is_idempotent(
    env: dict[str, str], finnhub_server: FakeFinnhub
) -> None:
    result = run(["--run-id", "cron-1"], env)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stderr)
    messages = [line["message"] for line in lines]
    assert "fetching from Finnhub" in messages
    assert "progress" in messages
    committed = next(line for line in lines if line["message"] == "ingest committed")
    assert (committed["run_id"], committed["status"]) == ("cron-1", "succeeded")
    datasets = next(line for line in lines if line["message"] == "finnhub datasets")["datasets"]
    assert datasets["candles"] == "not_entitled" and datasets["quotes"] == "ok"
    assert FREE_KEY not in result.stderr + result.stdout
    manifest = json.loads(Path(env["BUCKETPIPE_LAKE"], "_runs/ingest/cron-1.json").read_text())
    assert manifest["endpoints"]["dividends"]["status"] == "not_entitled"
    calls = len(finnhub_server.requests())
    again = run(["--run-id", "cron-1"], env)
    assert again.returncode == 0
    assert "already committed" in again.stderr
    assert len(finnhub_server.requests()) == calls


def test_failed_calls_exit_1_and_what_succeeded_is_committed(
    env: dict[str, str], finnhub_server: FakeFinnhub
) -> None:
    finnhub_server.inject("status", status=500, times=100, path="/stock/earnings")
    env["BUCKETPIPE_FINNHUB_MAX_RETRIES"] = "1"
    result = run(["--run-id", "r1", "--datasets", "quotes,earnings"], env)
    assert result.returncode == 1, result.stderr
    lines = json_lines(result.stderr)
    assert any(line["message"].startswith("some Finnhub calls failed") for line in lines)
    manifest = json.loads(Path(env["BUCKETPIPE_LAKE"], "_runs/ingest/r1.json").read_text())
    assert manifest["status"] == "partial"
    assert manifest["endpoints"]["quotes"]["ok"] == 2


def test_a_rejected_key_is_a_configuration_error(env: dict[str, str]) -> None:
    env["FINNHUB_API_KEY"] = "not-a-valid-key-11aa22bb"
    result = run(["--run-id", "r1"], env)
    assert result.returncode == 2
    assert "Finnhub rejected FINNHUB_API_KEY (HTTP 401)" in result.stderr
    assert "not-a-valid-key-11aa22bb" not in result.stderr


def test_an_indexed_job_pod_runs_its_shard(env: dict[str, str]) -> None:
    env.update({"JOB_COMPLETION_INDEX": "1", "BUCKETPIPE_RUN_ID": "ingest-finnhub-28512345"})
    result = run(["--shards", "2", "--datasets", "quotes,market_news"], env)
    assert result.returncode == 0, result.stderr
    manifest = json.loads(
        Path(env["BUCKETPIPE_LAKE"], "_runs/ingest/ingest-finnhub-28512345-1.json").read_text()
    )
    assert (manifest["shard"], manifest["shards"]) == (1, 2)
    assert manifest["endpoints"]["market_news"]["status"] == "skipped"
    assert manifest["outputs"][0].endswith("/ingest-finnhub-28512345-1.jsonl.gz")


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (["--shards", "2"], {}, "--shards 2 needs JOB_COMPLETION_INDEX"),
        (["--datasets", "quotes,gossip"], {}, "unknown ['gossip']"),
        ([], {"BUCKETPIPE_FINNHUB_CADENCES": "quotes=often"}, "BUCKETPIPE_FINNHUB_CADENCES"),
        ([], {"JOB_COMPLETION_INDEX": "-1"}, "JOB_COMPLETION_INDEX"),
    ],
)
def test_configuration_errors_exit_2_with_one_line(
    env: dict[str, str], args: list[str], extra: dict[str, str], message: str
) -> None:
    result = run(args, {**env, **extra})
    assert result.returncode == 2
    (line,) = json_lines(result.stderr)
    assert message in line["message"]


def test_a_terminal_gets_a_progress_bar_and_readable_logs(env: dict[str, str]) -> None:
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bucketpipe",
                "ingest",
                "finnhub",
                "--datasets",
                "quotes,earnings",
            ],
            env={"PATH": os.environ.get("PATH", ""), **env, "COLUMNS": "100"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=secondary,
        )
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=120) == 0
    finally:
        os.close(primary)
    text = output.decode("utf-8", "replace")
    assert "━" in text  # rich's bar
    assert "ingest committed" in text
    assert '{"time"' not in text  # text logs, not JSON
