"""Files being loaded side by side: their inserts, each on a cursor of its own, their work
folders, and the rule that keeps their copies within the scratch space a file may take.

The loader fetches and sniffs files in order on its connection and hands each file's inserts
here. Outcomes are taken in file order, on the loader's thread, so its report reads as if the
files had loaded one by one.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from types import TracebackType

import duckdb

from bucketpipe.formats.bounds import Limits, UnreadableFile
from bucketpipe.formats.refs import FileFailed, FileRef, LoadReport

log = logging.getLogger(__name__)

# What makes a file fail (reported with the reason) rather than the clean run.
FAILURES = (
    FileFailed,
    UnreadableFile,
    duckdb.Error,
    OSError,
    UnicodeError,
    KeyError,
    ValueError,
    csv.Error,
)
# Scratch a file may take beside its size: its copy, then a transcoded or line-cut copy.
ROOM_FACTOR = 3

# What a file's insert does on its cursor after the rows are in: the rejects it recorded.
Then = Callable[[duckdb.DuckDBPyConnection], int]


@dataclass
class Inserted:
    """What one insert did: rows in, rows rejected, and what stopped it (its file fails)."""

    rows: int = 0
    rejected: int = 0
    error: BaseException | None = None


@dataclass
class Pending:
    """A file being loaded: its inserts, and its work folder to remove once they are done."""

    ref: FileRef
    work: Path
    inserts: list[Future[Inserted]] = field(default_factory=list)


class InFlight:
    """Up to `workers` inserts at once on cursors of `con`; a context manager.

    While it is open, DuckDB preserves insertion order (each file's rows are numbered as they
    stand in it); on leaving, running inserts are awaited and every work folder is removed.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, report: LoadReport, limits: Limits, workers: int
    ) -> None:
        self.con = con
        self.report = report
        self.limits = limits
        self.workers = max(1, workers)
        self.pending: list[Pending] = []
        self._pool: ThreadPoolExecutor | None = None
        # One cursor per worker, made here on the caller's thread: a DuckDB connection is not
        # asked for cursors from threads while it runs a statement.
        self._cursors: SimpleQueue[duckdb.DuckDBPyConnection] = SimpleQueue()
        self._made: list[duckdb.DuckDBPyConnection] = []
        self._restore = "false"

    def __enter__(self) -> InFlight:
        row = self.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        self._restore = "true" if row and row[0] else "false"
        self.con.execute("SET GLOBAL preserve_insertion_order = true")
        for _ in range(self.workers):
            cursor = self.con.cursor()
            self._made.append(cursor)
            self._cursors.put(cursor)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="load")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.wait(0)
        finally:
            for pending in self.pending:  # only after an unexpected error
                for insert in pending.inserts:
                    insert.cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            for cursor in self._made:
                cursor.close()
            self._made.clear()
            for pending in self.pending:
                shutil.rmtree(pending.work, ignore_errors=True)
            self.pending.clear()
            self._pool = None
            self.con.execute(f"SET GLOBAL preserve_insertion_order = {self._restore}")

    def start(self, ref: FileRef, work: Path) -> None:
        """A new file whose work folder is `work`: waits first unless it surely fits beside
        the files in flight (a file loaded alone may take all the space a file may take)."""
        if self.pending and self.limits.scratch is not None:
            busy = sum(_disk_usage(p.work) for p in self.pending)
            # A workbook's sheets unpack to CSV of unknown size: it is loaded alone.
            sized = ref.size is not None and ref.read.format != "xlsx"
            if not sized or busy + ROOM_FACTOR * (ref.size or 0) > self.limits.scratch:
                self.wait(0)
        work.mkdir(parents=True, exist_ok=True)
        self.pending.append(Pending(ref, work))

    @property
    def current(self) -> Pending:
        return self.pending[-1]

    def submit(self, sql: str, then: Then | None) -> None:
        """Run an insert of the current file on a cursor of its own, then `then` there."""
        assert self._pool is not None, "inserts are submitted inside `with InFlight(...)`"
        self.current.inserts.append(self._pool.submit(self._insert, sql, then))

    def quiesce(self) -> None:
        """Wait until no insert runs (a schema change conflicts with them); their outcomes are
        taken later, in file order."""
        wait([insert for pending in self.pending for insert in pending.inserts])

    def wait(self, in_flight: int) -> None:
        """Finish the oldest files until at most `in_flight` inserts are left (0: all)."""
        while self.pending and (
            in_flight == 0
            or not self.pending[0].inserts
            or sum(len(p.inserts) for p in self.pending) > in_flight
        ):
            pending = self.pending.pop(0)
            try:
                for insert in pending.inserts:
                    done = insert.result()
                    self.report.rows += done.rows
                    self.report.rejected += done.rejected
                    if done.error is not None:
                        self.fail(pending.ref, done.error)
            finally:
                shutil.rmtree(pending.work, ignore_errors=True)

    def fail(self, ref: FileRef, exc: BaseException) -> None:
        """Record a file as not cleaned, with the first reason it gave."""
        if ref.uri in self.report.failed:
            return
        reason = failure_reason(exc)
        self.report.failed[ref.uri] = reason
        log.warning("file not cleaned", extra={"file": ref.uri, "reason": reason})

    def _insert(self, sql: str, then: Then | None) -> Inserted:
        """Run one insert on a free cursor, then `then`; rows already in are counted even when
        `then` fails (as the file fails)."""
        done = Inserted()
        cursor = self._cursors.get()  # the pool runs no more inserts than there are cursors
        try:
            row = cursor.execute(sql).fetchone()
            done.rows = int(row[0]) if row else 0
            done.rejected = then(cursor) if then else 0
        except FAILURES as exc:
            done.error = exc
        finally:
            self._cursors.put(cursor)
        return done


def failure_reason(exc: BaseException) -> str:
    """The first line of an error, as a file's reason (at most 300 characters)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text[:300]


def _disk_usage(folder: Path) -> int:
    """Bytes of the files under `folder` (0 when it is gone)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed meanwhile
    return total
