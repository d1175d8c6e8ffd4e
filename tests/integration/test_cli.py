"""The `bucketpipe` command as users run it: exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support.cli import run_cli
from tests.support.s3_servers import MOTO_KEYS, S3Server

# Keys for runs that never reach a server, or reach nothing but moto.
KEYS = MOTO_KEYS["writer"]

pytestmark = pytest.mark.integration


@pytest.fixture
def lake_env(tmp_path: Path) -> dict[str, str]:
    return {
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_DEMO_DAYS": "5",
        "HOME": str(tmp_path),
    }


def test_embedded_pipeline_from_the_command_line(lake_env: dict[str, str]) -> None:
    ingest = run_cli(["ingest", "demo", "--run-id", "demo-1"], lake_env)
    assert ingest.returncode == 0, ingest.stderr
    lines = [json.loads(line) for line in ingest.stderr.splitlines()]
    assert any(line["message"] == "ingest committed" for line in lines)
    clean = run_cli(["clean"], lake_env)
    assert clean.returncode == 0, clean.stderr
    status = run_cli(["status", "--json"], lake_env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    datasets = {d["dataset"]: d for d in report["datasets"]}
    assert datasets["quotes"]["rows"] > 0
    jobs = {j["job"]: j for j in report["jobs"]}
    assert jobs["ingest-demo"]["run_id"] == "demo-1"
    assert jobs["clean"]["state"] == "succeeded"
    assert report["redis"] == "off"
    again = run_cli(["ingest", "demo", "--run-id", "demo-1"], lake_env)
    assert again.returncode == 0
    assert "already committed" in again.stderr
    table = run_cli(["status"], lake_env)
    assert "quotes" in table.stdout and "ingest-demo" in table.stdout


def test_bad_setting_exits_2_with_one_line(lake_env: dict[str, str]) -> None:
    result = run_cli(["status"], {**lake_env, "BUCKETPIPE_DUCKDB_THREADS": "zero"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "BUCKETPIPE_DUCKDB_THREADS" in lines[0]


def test_unreachable_bucket_exits_75_with_one_line(lake_env: dict[str, str]) -> None:
    env = {
        **lake_env,
        "BUCKETPIPE_LAKE": "s3://lake/prefix",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": KEYS.access_key,
        "AWS_SECRET_ACCESS_KEY": KEYS.secret_key,
    }
    result = run_cli(["ingest", "demo", "--days", "1"], env)
    assert result.returncode == 75
    errors = [json.loads(line) for line in result.stderr.splitlines()]
    assert errors[-1]["level"] == "error"
    assert "cannot reach the object store" in errors[-1]["message"]
    assert KEYS.secret_key not in result.stderr


def test_missing_bucket_exits_1_and_says_so(lake_env: dict[str, str], s3_server: S3Server) -> None:
    env = {**lake_env, **s3_server.env("does-not-exist", "prefix")}
    result = run_cli(["ingest", "demo", "--days", "1"], env)
    assert result.returncode == 1
    last = json.loads(result.stderr.splitlines()[-1])
    assert "NoSuchBucket" in last["message"]


def test_config_masks_secrets(lake_env: dict[str, str]) -> None:
    env = {
        **lake_env,
        "AWS_SECRET_ACCESS_KEY": KEYS.secret_key,
        "FINNHUB_API_KEY": "fh-secret-123456",
    }
    result = run_cli(["config"], env)
    assert result.returncode == 0
    assert KEYS.secret_key not in result.stdout and "fh-secret-123456" not in result.stdout
    assert "AWS_SECRET_ACCESS_KEY" in result.stdout and "***" in result.stdout


def test_a_password_in_an_address_reaches_no_output(lake_env: dict[str, str]) -> None:
    """A Redis URL may carry its password (and a hurried operator puts one in the S3
    endpoint): the endpoint is refused by name, and the Redis password, allowed, is masked in
    every line the jobs print while Redis is down, which loses no data."""
    endpoint = run_cli(["status"], {**lake_env, "AWS_ENDPOINT_URL": "http://k:endpw-4411@h:9"})
    assert endpoint.returncode == 2
    assert "AWS_ENDPOINT_URL" in endpoint.stderr and "endpw-4411" not in endpoint.stderr
    down = {**lake_env, "REDIS_URL": "redis://:redispw-8822@127.0.0.1:1/0"}
    runs = [run_cli(argv, down) for argv in (["ingest", "demo", "--days", "1"], ["clean"])]
    runs += [run_cli(["status"], down), run_cli(["config"], down)]
    assert [r.returncode for r in runs] == [0, 0, 0, 0]
    assert "Redis unavailable" in runs[0].stderr
    for result in runs:
        assert "redispw-8822" not in result.stdout + result.stderr
    assert "redis://:***@127.0.0.1:1/0" in runs[3].stdout


def test_sigterm_stops_a_run_cleanly_without_committing(lake_env: dict[str, str]) -> None:
    import signal
    import time

    base = {"PATH": os.environ.get("PATH", ""), "HOME": lake_env["HOME"]}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bucketpipe",
            "ingest",
            "demo",
            "--days",
            "3650",
            "--run-id",
            "long",
        ],
        env={**base, **lake_env},
        stderr=subprocess.PIPE,
        text=True,
    )
    lake = Path(lake_env["BUCKETPIPE_LAKE"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(
        Path(lake_env["BUCKETPIPE_TEMP_DIR"]).rglob("*.jsonl.gz")
    ):
        time.sleep(0.1)  # wait until it is writing raw lines
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    last = json.loads(stderr.strip().splitlines()[-1])
    assert last["message"].startswith("stopped;")
    assert not (lake / "_runs" / "ingest" / "long.json").exists()


def test_unexpected_failure_is_one_line_not_a_traceback(lake_env: dict[str, str]) -> None:
    """A committed file damaged behind Bucketpipe's back: clean fails with one line, exit 1."""
    assert run_cli(["ingest", "demo", "--run-id", "d1"], lake_env).returncode == 0
    assert run_cli(["clean"], lake_env).returncode == 0
    lake = Path(lake_env["BUCKETPIPE_LAKE"])
    newest = sorted((lake / "clean" / "quotes").rglob("*.parquet"))[-1]
    newest.write_bytes(b"this is not parquet")
    assert run_cli(["ingest", "demo", "--run-id", "d2"], lake_env).returncode == 0
    result = run_cli(["clean"], lake_env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = json.loads(result.stderr.strip().splitlines()[-1])
    assert last["level"] == "error"
    assert last["message"].startswith("unexpected ")


def test_out_of_memory_says_which_setting_to_raise(lake_env: dict[str, str]) -> None:
    assert run_cli(["ingest", "demo", "--run-id", "d1"], lake_env).returncode == 0
    result = run_cli(["clean"], {**lake_env, "BUCKETPIPE_DUCKDB_MEMORY_LIMIT": "2MB"})
    assert result.returncode == 1
    last = json.loads(result.stderr.strip().splitlines()[-1])
    assert last["message"].startswith("out of memory: ")
    assert "BUCKETPIPE_DUCKDB_MEMORY_LIMIT" in last["message"]
    # Nothing was committed: with the default limit the same input cleans.
    assert run_cli(["clean"], lake_env).returncode == 0


@pytest.mark.parametrize("command", [["ingest", "demo"], ["ingest", "finnhub"]])
def test_symbols_on_the_command_line_are_checked_like_the_setting(
    lake_env: dict[str, str], command: list[str]
) -> None:
    env = {**lake_env, "FINNHUB_API_KEY": "fh-test-123456"}
    result = run_cli([*command, "--symbols", "AAPL,A'B"], env)
    assert result.returncode == 2
    last = json.loads(result.stderr.strip().splitlines()[-1])
    assert last["message"].startswith('--symbols: "A\'B" is not a ticker symbol')


def test_a_broken_clean_config_stops_clean_even_with_nothing_to_do(
    lake_env: dict[str, str], tmp_path: Path
) -> None:
    """A broken ConfigMap showed only once data arrived; the CronJob now fails at once."""
    config = tmp_path / "clean.yaml"
    config.write_text("datasets: {orders: {colour: red}}")
    result = run_cli(["clean"], {**lake_env, "BUCKETPIPE_CLEAN_CONFIG": str(config)})
    assert result.returncode == 2
    last = json.loads(result.stderr.strip().splitlines()[-1])
    assert "colour" in last["message"]
