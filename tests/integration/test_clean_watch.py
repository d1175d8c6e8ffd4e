"""`bucketpipe clean --watch`: cleans as soon as an ingest run is announced, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bucketpipe.lake.runs import RunLog
from bucketpipe.lake.storage import LocalStore

pytestmark = pytest.mark.integration


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def watch_env(tmp_path: Path, refresh_seconds: int, redis_url: str | None) -> dict[str, str]:
    """A local lake for the CLI processes, with Redis when given."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_DEMO_DAYS": "2",
        "BUCKETPIPE_REFRESH_SECONDS": str(refresh_seconds),
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return env


def start_watch(env: dict[str, str], heartbeat: Path | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "bucketpipe", "clean", "--watch"]
    if heartbeat is not None:
        args += ["--heartbeat-file", str(heartbeat)]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "no-redis"])
def test_watch_cleans_each_announced_run(
    tmp_path: Path, request: pytest.FixtureRequest, with_redis: bool
) -> None:
    redis_url = request.getfixturevalue("redis_url") if with_redis else None
    # Far longer than the test with Redis: every run must be cleaned because its event woke
    # the watch (the second one is ingested while the first is being cleaned, and must not
    # wait out the interval); without Redis the watch polls, so it is short.
    env = watch_env(tmp_path, 600 if with_redis else 2, redis_url)
    heartbeat = tmp_path / "heartbeat"
    watcher = start_watch(env, heartbeat)
    runlog = RunLog(LocalStore(tmp_path / "lake"))
    try:
        for n in (1, 2):
            subprocess.run(
                [sys.executable, "-m", "bucketpipe", "ingest", "demo", "--run-id", f"demo-{n}"],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )

            def cleaned(n: int = n) -> bool:
                done: set[str] = set()
                for key in runlog.manifest_keys("clean"):
                    done.update(runlog.read("clean", key.rsplit("/", 1)[-1][:-5]).inputs)
                return f"demo-{n}" in done

            assert wait_for(cleaned), f"demo-{n} was not cleaned by the watcher"
        assert heartbeat.exists()
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=60)
    # Stopped between passes: 130, as the README says for SIGTERM.
    assert watcher.returncode == 130, stderr


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "no-redis"])
def test_sigterm_ends_a_waiting_watch_promptly(
    tmp_path: Path, request: pytest.FixtureRequest, with_redis: bool
) -> None:
    redis_url = request.getfixturevalue("redis_url") if with_redis else None
    env = watch_env(tmp_path, 600, redis_url)
    heartbeat = tmp_path / "heartbeat"
    watcher = start_watch(env, heartbeat)
    try:
        assert wait_for(heartbeat.exists), "the watch never finished its first pass"
    finally:
        watcher.send_signal(signal.SIGTERM)
        # The wait is 600 s; a watch that ignored SIGTERM until its wait ended would time out
        # here (Kubernetes would kill it after its 30 s grace).
        _, stderr = watcher.communicate(timeout=25)
    assert watcher.returncode == 130, stderr
    assert "Traceback" not in stderr


def test_two_watchers_clean_each_run_exactly_once(tmp_path: Path, redis_url: str) -> None:
    """Two replicas of the watcher: every announced run is cleaned, and by one clean only."""
    env = watch_env(tmp_path, 600, redis_url)
    watchers = [start_watch(env) for _ in range(2)]
    runlog = RunLog(LocalStore(tmp_path / "lake"))
    runs = [f"demo-{n}" for n in range(1, 4)]

    def consumed() -> list[str]:
        inputs: list[str] = []
        for key in runlog.manifest_keys("clean"):
            manifest = runlog.read("clean", key.rsplit("/", 1)[-1][:-5])
            if manifest.status == "succeeded":
                inputs += manifest.inputs
        return inputs

    try:
        for run_id in runs:
            subprocess.run(
                [sys.executable, "-m", "bucketpipe", "ingest", "demo", "--run-id", run_id],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
        assert wait_for(lambda: set(runs) <= set(consumed())), consumed()
    finally:
        for watcher in watchers:
            watcher.send_signal(signal.SIGTERM)
        errors = [watcher.communicate(timeout=60)[1] for watcher in watchers]
    assert sorted(consumed()) == runs, consumed()
    assert [w.returncode for w in watchers] == [130, 130], errors
