"""Running a measured child process: wall time, CPU time and peak resident memory.

Peak RSS is the child's own high-water mark (see `PeakWatch`), so it covers everything the
process allocated (DuckDB's buffers, pandas' arrays, Python itself). An optional cap stops a
child whose resident memory grows past it, so a runaway baseline cannot take down a shared
machine; it is then reported as stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bucketpipe.config.settings import all_env_names

log = logging.getLogger(__name__)

GIB = 1024**3


@dataclass(frozen=True)
class Measured:
    """How a child process went."""

    command: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    stopped_at_cap: bool = False
    timed_out: bool = False
    log_lines: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.stopped_at_cap and not self.timed_out

    @property
    def peak_rss_gib(self) -> float:
        return self.peak_rss_bytes / GIB

    def events(self, message: str) -> list[dict[str, Any]]:
        """The child's JSON log lines with this message."""
        return [line for line in self.log_lines if line.get("message") == message]

    def as_dict(self) -> dict[str, Any]:
        return {
            "returncode": self.returncode,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mib": round(self.peak_rss_bytes / 1024**2, 1),
            "stopped_at_cap": self.stopped_at_cap,
            "timed_out": self.timed_out,
        }


CHECKOUT = Path(__file__).resolve().parents[1]


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any Bucketpipe setting, plus `overrides`.

    The bench's children must not pick up the developer's lake, Redis or keys: every setting
    they use is given explicitly.
    """
    settings_names = set(all_env_names())
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BUCKETPIPE_") and k not in settings_names
    }
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The harness is not installed with the package: children that run its modules
    # (`python -m benchmarks.baseline_clean`) find it in the checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    return env


def bucketpipe_command(*args: str) -> list[str]:
    """`bucketpipe ARGS` run with this interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "bucketpipe", *args]


def _status_kib(pid: int, field: str) -> int | None:
    """A `Vm*` line of /proc/<pid>/status in KiB (None when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class PeakWatch:
    """Polls a child's memory: its high-water mark and, with a cap, stops it when it passes.

    The kernel's rusage of a child counts the parent's memory copied at fork (the bench is a
    few hundred MiB), so the peak comes from /proc/<pid>/status `VmHWM`, the high-water mark
    of the child's own address space since exec, read every `interval` seconds (it only grows,
    so only growth in the last interval before exit can be missed).
    """

    def __init__(self, pid: int, cap_bytes: int | None, interval: float = 0.05) -> None:
        self.pid = pid
        self.cap_kib = cap_bytes // 1024 if cap_bytes else None
        self.interval = interval
        self.peak_kib = 0
        self.stopped_at_cap = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"peak-{pid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            hwm = _status_kib(self.pid, "VmHWM")
            if hwm is not None:
                self.peak_kib = max(self.peak_kib, hwm)
            rss = _status_kib(self.pid, "VmRSS")
            if self.cap_kib and rss is not None and rss > self.cap_kib:
                self.stopped_at_cap = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                return
            self._stop.wait(self.interval)

    def stop(self) -> int:
        """Stop polling; the peak in bytes."""
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak_kib * 1024


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    rss_cap_bytes: int | None = None,
    timeout_s: float | None = None,
) -> Measured:
    """Run `command` to completion and measure it; its stderr goes to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("wb") as err:
        proc = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=err, stderr=subprocess.STDOUT
        )
        watch = PeakWatch(proc.pid, rss_cap_bytes)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(timeout_s, expire) if timeout_s else None
        if timer:
            timer.start()
        try:
            # Reaping by hand gives this child's CPU times (its rusage, not the others').
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            peak = watch.stop()
            if timer:
                timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    text = log_path.read_text(errors="replace")
    return Measured(
        command=tuple(command),
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_bytes=peak,
        stopped_at_cap=watch.stopped_at_cap,
        timed_out=expired.is_set(),
        log_lines=tuple(_json_lines(text)),
        stderr_tail=text[-2000:],
    )


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
    return out
