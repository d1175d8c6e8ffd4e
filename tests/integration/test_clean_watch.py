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


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "no-redis"])
def test_watch_cleans_each_announced_run(
    tmp_path: Path, request: pytest.FixtureRequest, with_redis: bool
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_DEMO_DAYS": "2",
        "BUCKETPIPE_REFRESH_SECONDS": "2",
    }
    if with_redis:
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "bucketpipe", "clean", "--watch"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
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
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, stderr
