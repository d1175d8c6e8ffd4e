"""One SQL worker process seen from the parent: spawn, ask, watch, kill, clean up.

The worker is started with `subprocess` (fork + exec, safe in a multi-threaded server; no
Python code runs in a forked copy of the dashboard) and an environment built from an
allowlist. While a query runs the parent watches the clock and the worker's resident memory;
past the time limit or the memory cap it kills the worker, and it always removes the worker's
private temp directory (its spill files) once the worker is gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bucketpipe
from bucketpipe.serve.sandbox.protocol import Closed, FrameReader, Timeout, write_json

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
PAYLOAD_GRACE_S = 10.0
# The resident-memory watch: sampled this often while a query runs, and the worker killed
# this far below the cap, so what it can allocate between two samples stays under the cap.
WATCH_EVERY_S = 0.02
KILL_GUARD = 96 << 20
_ROOT = str(Path(bucketpipe.__file__).resolve().parents[1])
# -I: no PYTHON* variables, no user site, no current directory on the path.
_BOOT = (
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from bucketpipe.serve.sandbox.worker import main; main()"
)


def worker_env(home: Path) -> dict[str, str]:
    """The worker's whole environment: an allowlist, so no credential can be inherited."""
    return {
        "PATH": os.defpath,
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # glibc reserves 64 MiB of address space per malloc arena; few arenas keep the
        # address-space cap close to what is really resident.
        "MALLOC_ARENA_MAX": "2",
    }


@dataclass
class Reply:
    """A worker's answer: its header and, for rows, the Arrow IPC stream."""

    header: dict[str, Any]
    payload: bytes = b""
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.header.get("ok"))


@dataclass(eq=False)
class WorkerProcess:
    """A started worker: its process, pipes and private directory."""

    spec: dict[str, Any]
    base: Path
    rss_cap: int
    schema: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    peak_rss: int = 0
    unsettled: bool = False

    def __post_init__(self) -> None:
        self.home = self.base / f"w-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.home.mkdir(parents=True, mode=0o700)
        settings = {**self.spec["settings"], "temp_dir": str(self.home)}
        with open(self.home / "worker.err", "wb") as errors:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=worker_env(self.home),
                cwd=self.home,
                close_fds=True,
                start_new_session=True,  # Ctrl-C on a terminal reaches the parent only
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._out = self.proc.stdin
        self._in = FrameReader(self.proc.stdout.fileno())
        try:
            write_json(self._out, {**self.spec, "settings": settings})
            hello = self._in.read_json(time.monotonic() + START_TIMEOUT_S)
        except (Timeout, Closed, OSError):
            hello = {"ok": False, "message": "the SQL worker did not start"}
        if not hello.get("ok"):
            self.kill()
            raise RuntimeError(str(hello.get("message") or "the SQL worker did not start"))
        schema = hello.get("schema") or {}
        self.schema = {k: [(c, t) for c, t in v] for k, v in schema.items()}

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, request: dict[str, Any], timeout_s: float) -> Reply:
        """Send one query; `Timeout`, `Closed` (it died) or `MemoryCapExceeded` on failure."""
        started = time.monotonic()
        deadline = started + timeout_s
        self.peak_rss = 0  # this query's peak (the worker resets its high-water mark too)
        write_json(self._out, request)
        header = json.loads(self._in.read(deadline, self._watch, WATCH_EVERY_S))
        payload = b""
        if header.get("ok"):
            grace = time.monotonic() + PAYLOAD_GRACE_S
            payload = self._in.read(grace, self._watch, WATCH_EVERY_S)
        self.peak_rss = max(self.peak_rss, int(header.get("peak_rss") or 0))
        self.unsettled = True
        return Reply(header, payload, time.monotonic() - started)

    def settle(self, timeout_s: float = 10.0) -> bool:
        """Whether the last query left the engine as it was (the worker's after-query check)."""
        if not self.unsettled:
            return self.alive
        try:
            state = json.loads(self._in.read(time.monotonic() + timeout_s))
        except (Timeout, Closed, OSError, ValueError):
            return False
        self.unsettled = False
        return bool(state.get("state") == "same") and self.alive

    def _watch(self) -> None:
        rss = resident_bytes(self.proc.pid)
        self.peak_rss = max(self.peak_rss, rss)
        if rss > self.rss_cap - KILL_GUARD:
            self.kill()  # at once: every tick it lives it may grow
            raise MemoryCapExceeded

    def kill(self) -> None:
        """Stop the worker (SIGKILL: it holds nothing worth saving) and remove its files."""
        if self.proc.poll() is None:
            self.peak_rss = max(self.peak_rss, high_water_bytes(self.proc.pid))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._in.close()
        shutil.rmtree(self.home, ignore_errors=True)


class MemoryCapExceeded(Exception):
    """The worker's resident memory passed its cap."""


def high_water_bytes(pid: int) -> int:
    """The peak resident memory of a process so far (VmHWM; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def resident_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0
