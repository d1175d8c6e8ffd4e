"""A new dashboard process reports healthy only once its pages' modules are imported.

The launcher's warm-up is held back on a flag file here, so the window in which the server
listens but is not yet ready lasts as long as the test needs: the health check answers 503
"warming up" through all of it (Kubernetes routes no visitor to the replica), then 200.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bucketpipe.app import launch
from bucketpipe.jobs.dashboard import command
from tests.conftest import free_port

HELD = """
import pathlib, sys, time
from bucketpipe.app import launch

flag = pathlib.Path(sys.argv.pop(1))
warm = launch.warm


def held(wait_s=launch.RUNTIME_WAIT_S):
    while not flag.exists():
        time.sleep(0.05)
    return warm(wait_s)


launch.warm = held
sys.argv[0] = "streamlit"
launch.main()
"""


def health(port: int) -> tuple[int, str] | None:
    """(status, body) of the health check; None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


def wait_for(port: int, process: subprocess.Popen[bytes], status: int) -> tuple[int, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the dashboard exited"
        answer = health(port)
        if answer is not None and answer[0] == status:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"the health check never answered {status}")


def test_the_health_check_waits_for_the_warm_up(tmp_path: Path) -> None:
    port = free_port()
    flag = tmp_path / "go"
    argv = command(port, "127.0.0.1")
    assert argv[1:3] == ["-m", "bucketpipe.app.launch"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUCKETPIPE_", "AWS_"))}
    env["BUCKETPIPE_LAKE"] = str(tmp_path / "lake")
    process = subprocess.Popen(
        [sys.executable, "-c", HELD, str(flag), *argv[3:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(port, process, 503) == (503, launch.WARMING)
        time.sleep(1.0)  # the server is up and idle: still held back
        assert health(port) == (503, launch.WARMING)
        flag.touch()
        assert wait_for(port, process, 200) == (200, "ok")
    finally:
        process.terminate()
        process.wait(timeout=20)
