"""`bucketpipe` run as a real child process, the way an operator or a CronJob starts it."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`bucketpipe <args>` with `env` on top of a bare environment (PATH and HOME only), so no
    setting of the test run leaks into the child."""
    base = {"PATH": os.environ.get("PATH", ""), "HOME": env.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "bucketpipe", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
