"""A small pool of SQL workers: warm ones answer at once, used-up ones are replaced.

A worker goes back to the pool only after a query that succeeded and left the engine as it
found it; after anything else (an engine error, a time or memory limit, a crash, a changed
setting) it is killed and a fresh one is started in the background, so the next query sees
the engine as it was and does not wait for the start-up.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from bucketpipe.config.errors import QueryRefused
from bucketpipe.serve.sandbox.process import WorkerProcess

log = logging.getLogger(__name__)

# After a failed start, wait this long before trying again (a broken set-up fails fast).
RETRY_AFTER_S = 5.0


class WorkerPool:
    """Up to `size` workers over one set of dataset views."""

    def __init__(self, spec: dict[str, Any], base: Path, rss_cap: int, size: int) -> None:
        self.spec = spec
        self.base = base
        self.rss_cap = rss_cap
        self.size = max(1, size)
        self._idle: list[WorkerProcess] = []
        self._live: set[WorkerProcess] = set()
        self._starting = 0
        self._closed = False
        self._error: str | None = None
        self._failed_at = float("-inf")
        self._cond = threading.Condition()
        self.schema: dict[str, list[tuple[str, str]]] | None = None
        self.started = False  # whether any worker has finished starting
        # Kill the workers when the pool is dropped or the interpreter exits.
        self._finalizer = weakref.finalize(self, _kill_all, self._live)
        sweep(base)
        with self._cond:
            for _ in range(self.size):
                self._spawn_locked()

    # --- lending workers -----------------------------------------------------------------
    def acquire(self, wait_s: float) -> WorkerProcess:
        """An idle worker, starting one if none is free; waits at most `wait_s` seconds."""
        deadline = time.monotonic() + wait_s
        while True:
            worker = self._take(deadline)
            if worker.settle():
                return worker
            log.warning("SQL worker replaced: a query changed its engine or it stopped")
            self.release(worker, recycle=True)

    def _take(self, deadline: float) -> WorkerProcess:
        with self._cond:
            while True:
                if self._closed:
                    raise QueryRefused("the SQL engine was replaced; run the query again")
                for dead in [w for w in self._idle if not w.alive]:
                    self._idle.remove(dead)
                    self._discard_locked(dead)
                if self._idle:
                    # The one that waited longest: its after-query check is surely done.
                    worker = self._idle.pop(0)
                    if not self._idle:
                        self._spawn_locked()  # a spare for the next query
                    return worker
                self._spawn_locked()
                if self._error and not self._live and not self._starting:
                    raise QueryRefused(f"the SQL engine could not start: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QueryRefused(
                        "the SQL engine is busy with other queries; try again in a moment"
                    )
                self._cond.wait(left)

    def release(self, worker: WorkerProcess, *, recycle: bool) -> None:
        """Give a worker back, or kill it (and start a replacement) when it is used up."""
        with self._cond:
            if recycle or self._closed or not worker.alive:
                self._discard_locked(worker)
                if not self._closed:
                    self._spawn_locked()
            else:
                self._idle.append(worker)
            self._cond.notify_all()

    def close(self) -> None:
        """Kill idle workers now; busy ones are killed when they come back."""
        with self._cond:
            self._closed = True
            while self._idle:
                self._discard_locked(self._idle.pop())
            self._cond.notify_all()

    def wait_ready(self, timeout_s: float, count: int = 1) -> None:
        """Block until `count` workers are idle (or the pool gave up starting one)."""
        deadline = time.monotonic() + timeout_s
        count = min(count, self.size)
        with self._cond:
            while len(self._idle) < count and (self._starting or not self._error):
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return
                self._cond.wait(left)

    @property
    def error(self) -> str | None:
        return self._error

    # --- starting and stopping -----------------------------------------------------------
    def _spawn_locked(self) -> None:
        if self._closed or len(self._live) + self._starting >= self.size:
            return
        if self._error and time.monotonic() - self._failed_at < RETRY_AFTER_S:
            return
        self._starting += 1
        threading.Thread(target=self._start_one, name="sql-worker-start", daemon=True).start()

    def _start_one(self) -> None:
        try:
            worker = WorkerProcess(self.spec, self.base, self.rss_cap)
        except Exception as exc:  # a start that fails is reported to the next query
            # After close, the run's scratch directory may already be gone: that start
            # failing is expected, not an error of anything a user asked for.
            level = logging.DEBUG if self._closed else logging.ERROR
            log.log(level, "SQL worker failed to start", extra={"error": str(exc)[:300]})
            with self._cond:
                self._starting -= 1
                self._error = str(exc)[:300]
                self._failed_at = time.monotonic()
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            self._error = None
            self.started = True
            self.schema = self.schema or worker.schema or None
            if self._closed:
                worker.kill()
            else:
                self._live.add(worker)
                self._idle.append(worker)
            self._cond.notify_all()

    def _discard_locked(self, worker: WorkerProcess) -> None:
        self._live.discard(worker)
        worker.kill()


def sweep(base: Path) -> None:
    """Remove the directories of workers whose parent process is gone (killed outright)."""
    if not base.is_dir():
        return
    for folder in base.glob("w-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _kill_all(workers: set[WorkerProcess]) -> None:
    for worker in list(workers):
        worker.kill()
    workers.clear()
