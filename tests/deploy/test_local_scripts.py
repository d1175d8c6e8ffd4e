"""The local stack's helper scripts, run for real: init-env.sh, run-once.sh, every.sh,
rgw-keys.sh (RGW's keys split by role) and with-keys.sh (a container loads its role's keys)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.deploy.deploy_helpers import COMPOSE

LOCAL = COMPOSE.parent
SCRIPTS = ["every.sh", "init-env.sh", "run-once.sh", "rgw-keys.sh", "with-keys.sh"]
# What `local/rgw/rgw.sh env` prints (the values are made up).
EXPORTS = """\
export AWS_ENDPOINT_URL=http://0.0.0.0:7480
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=WRITER0KEY
export AWS_SECRET_ACCESS_KEY=writer/secret+value
export BUCKETPIPE_LAKE=s3://lake-bucket/lake
export BUCKETPIPE_READER_ACCESS_KEY_ID=READER0KEY
export BUCKETPIPE_READER_SECRET_ACCESS_KEY=reader-secret
export BUCKETPIPE_SOURCE=s3://source-bucket
export BUCKETPIPE_SOURCE_ACCESS_KEY_ID=SOURCE0KEY
export BUCKETPIPE_SOURCE_SECRET_ACCESS_KEY=source-secret
export RGW_OWNER_ACCESS_KEY_ID=OWNER0KEY
export RGW_OWNER_SECRET_ACCESS_KEY=owner-secret
"""


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_scripts_parse_and_are_executable(script: str) -> None:
    path = LOCAL / script
    subprocess.run(["sh", "-n", str(path)], check=True, timeout=10)
    assert os.access(path, os.X_OK), f"{script} is not executable"


def _sh(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", *args], input=stdin, capture_output=True, text=True, timeout=30, env=env, check=False
    )


def test_rgw_keys_gives_each_role_only_its_keys(tmp_path: Path) -> None:
    result = _sh(str(LOCAL / "rgw-keys.sh"), str(tmp_path), stdin=EXPORTS)
    assert result.returncode == 0, result.stderr
    files = {role: (tmp_path / role / "env").read_text() for role in ("writer", "reader", "source")}
    assert files["writer"] == (
        "AWS_ACCESS_KEY_ID=WRITER0KEY\nAWS_SECRET_ACCESS_KEY=writer/secret+value\n"
        "BUCKETPIPE_LAKE=s3://lake-bucket/lake\n"
    )
    assert files["reader"] == (
        "AWS_ACCESS_KEY_ID=READER0KEY\nAWS_SECRET_ACCESS_KEY=reader-secret\n"
        "BUCKETPIPE_LAKE=s3://lake-bucket/lake\n"
    )
    assert files["source"] == (
        "BUCKETPIPE_SOURCE=s3://source-bucket\nBUCKETPIPE_SOURCE_ACCESS_KEY_ID=SOURCE0KEY\n"
        "BUCKETPIPE_SOURCE_SECRET_ACCESS_KEY=source-secret\n"
    )
    assert "OWNER0KEY" not in "".join(files.values())
    for secret in ("writer/secret+value", "reader-secret", "source-secret", "WRITER0KEY"):
        assert secret not in result.stdout + result.stderr  # names are printed, never values
    assert (tmp_path / "reader" / "env").stat().st_mode & 0o777 == 0o444
    again = _sh(str(LOCAL / "rgw-keys.sh"), str(tmp_path), stdin=EXPORTS)
    assert again.returncode == 0, again.stderr  # a rerun replaces the read-only files


@pytest.mark.parametrize(
    ("stdin", "code", "message"),
    [
        (
            EXPORTS.replace("export BUCKETPIPE_READER_SECRET_ACCESS_KEY=reader-secret\n", ""),
            1,
            "missing",
        ),
        (EXPORTS + "export AWS_REGION=$(reboot)\n", 2, "unexpected characters"),
        (EXPORTS + "rm -rf /\n", 2, "not an export line"),
    ],
)
def test_rgw_keys_refuses_incomplete_or_odd_input(
    tmp_path: Path, stdin: str, code: int, message: str
) -> None:
    result = _sh(str(LOCAL / "rgw-keys.sh"), str(tmp_path), stdin=stdin)
    assert result.returncode == code and message in result.stderr


def test_with_keys_exports_the_files_and_runs_the_command(tmp_path: Path) -> None:
    assert _sh(str(LOCAL / "rgw-keys.sh"), str(tmp_path), stdin=EXPORTS).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = _sh(
        str(LOCAL / "with-keys.sh"),
        str(tmp_path / "reader" / "env"),
        "--",
        "sh",
        "-c",
        'printf "%s %s" "$AWS_ACCESS_KEY_ID" "$BUCKETPIPE_LAKE"',
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "READER0KEY s3://lake-bucket/lake"


def test_with_keys_refuses_to_start_without_its_keys(tmp_path: Path) -> None:
    missing = _sh(str(LOCAL / "with-keys.sh"), str(tmp_path / "none"), "--", "true")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    odd = tmp_path / "odd"
    odd.write_text("not a line\n")
    assert _sh(str(LOCAL / "with-keys.sh"), str(odd), "--", "true").returncode == 2
    assert _sh(str(LOCAL / "with-keys.sh"), "--", "true").returncode == 2


def test_init_env_generates_the_passwords_and_keeps_an_existing_file(tmp_path: Path) -> None:
    for name in ("init-env.sh", ".env.example"):
        (tmp_path / name).write_text((LOCAL / name).read_text())
    result = subprocess.run(
        ["sh", str(tmp_path / "init-env.sh")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    env = dict(
        line.split("=", 1)
        for line in (tmp_path / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    generated = ("REDIS_PASSWORD", "REDIS_READER_PASSWORD", "BUCKETPIPE_DASHBOARD_PASSWORD")
    for name in generated:
        assert re.fullmatch(r"[0-9a-f]{48}", env[name]), name
        assert env[name] not in result.stdout + result.stderr  # names are printed, never values
    assert len({env[n] for n in generated}) == len(generated)
    assert env["FINNHUB_API_KEY"] == "" and env["BUCKETPIPE_DASHBOARD_PUBLIC"] == "false"
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0  # readable by the owner only
    before = (tmp_path / ".env").read_text()
    again = subprocess.run(
        ["sh", str(tmp_path / "init-env.sh")], capture_output=True, text=True, timeout=30
    )
    assert again.returncode == 1 and "exists" in again.stderr
    assert (tmp_path / ".env").read_text() == before


def test_run_once_runs_the_tools_service_through_compose(tmp_path: Path) -> None:
    fake = tmp_path / "docker"
    record = tmp_path / "args"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    subprocess.run(
        ["sh", str(LOCAL / "run-once.sh"), "clean", "--rebuild", "quotes"],
        env=env,
        check=True,
        timeout=30,
    )
    assert record.read_text().splitlines() == [
        "compose",
        "-f",
        str(COMPOSE),
        "run",
        "--rm",
        "bucketpipe",
        "clean",
        "--rebuild",
        "quotes",
    ]
    usage = subprocess.run(["sh", str(LOCAL / "run-once.sh")], capture_output=True, timeout=30)
    assert usage.returncode == 2


def test_every_repeats_a_command_and_survives_failures(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        ["sh", str(LOCAL / "every.sh"), "0", "sh", "-c", f"echo run >> {runs}; exit 3"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            not runs.exists() or len(runs.read_text().split()) < 3
        ):
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert len(runs.read_text().split()) >= 3
    assert "exited with status 3" in stderr


def test_every_stops_the_running_command_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(["sh", str(LOCAL / "every.sh"), "60", "sleep", "30"])
    try:
        deadline = time.monotonic() + 10
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and not children:
            children = psutil.Process(process.pid).children()
            time.sleep(0.05)
        assert children, "the command did not start"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, "the running command outlived the loop"
    finally:
        if process.poll() is None:
            process.kill()


def test_every_rejects_a_bad_interval() -> None:
    result = subprocess.run(
        ["sh", str(LOCAL / "every.sh"), "15m", "true"], capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 2 and "whole number" in result.stderr
