"""User SQL over the committed datasets: what the SQL page and `bucketpipe sql` call.

A session holds a pool of worker processes over one set of snapshots. Each query is validated
and run in a worker (`worker.py`), bounded by the row cap, the byte cap, the time limit and
the worker's memory cap; the parent only ever sees one line of text or an Arrow table.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.logs import mask, registered_secrets
from bucketpipe.config.settings import Settings
from bucketpipe.lake.snapshots import Snapshot
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.sandbox.limits import MIB, Limits, parse_bytes
from bucketpipe.serve.sandbox.messages import Failure
from bucketpipe.serve.sandbox.pool import WorkerPool
from bucketpipe.serve.sandbox.process import MemoryCapExceeded, Reply
from bucketpipe.serve.sandbox.protocol import Closed, Timeout
from bucketpipe.serve.sandbox.shown import shows_any

log = logging.getLogger(__name__)

# How long a dashboard query waits for a free worker (one busy, or starting after a failure)
# before it is told to try again: with the time limit it bounds the wall time of every query.
QUEUE_WAIT_S = 4.0
# How long opening a session waits for its first worker (an interpreter, DuckDB, the views).
READY_WAIT_S = 60.0

# Settings the worker needs to read the lake, by name; nothing else crosses over.
WORKER_FIELDS = (
    "lake",
    "aws_endpoint_url",
    "aws_region",
    "aws_ca_bundle",
    "duckdb_memory_limit",
    "duckdb_threads",
)


@dataclass(frozen=True)
class QueryResult:
    """What a user query returned. `cut` names the cap that shortened it ("rows", "bytes")."""

    sql: str
    frame: pd.DataFrame
    cut: str | None
    max_rows: int
    max_bytes: int
    elapsed_s: float
    explain: bool = False
    peak_rss: int = 0

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def truncated(self) -> bool:
        return self.cut is not None


@dataclass(frozen=True)
class Outcome:
    """How the last query went, for tests and benchmarks: kind, wall time, worker and its peak."""

    kind: str
    wall_s: float
    peak_rss: int
    worker_pid: int


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def worker_settings(settings: Settings) -> dict[str, Any]:
    """The settings values a worker starts from: the lake, its (reader) key, the sizes."""
    values = {f: getattr(settings, f) for f in WORKER_FIELDS if f in Settings.model_fields}
    values["duckdb_max_temp_size"] = spill_cap(settings)
    values["aws_access_key_id"] = _secret(settings.aws_access_key_id)
    values["aws_secret_access_key"] = _secret(settings.aws_secret_access_key)
    return values


def spill_cap(settings: Settings) -> str:
    """The spill cap of one query: the SQL setting, or DuckDB's own cap where that is lower."""
    caps = [settings.sql_max_temp_size, settings.duckdb_max_temp_size]
    return min((c for c in caps if c), key=parse_bytes)


def needles(settings: Settings, store: ObjectStore) -> list[str]:
    """What no output may show: where the lake is, and the credentials the worker holds."""
    found: list[str | None] = [store.url]
    if settings.lake_is_s3:
        parts = urlsplit(store.url)
        found += [f"s3://{parts.netloc}", f"{parts.netloc}{parts.path}/"]
        if settings.aws_endpoint_url:
            found.append(urlsplit(settings.aws_endpoint_url).netloc or settings.aws_endpoint_url)
    else:
        found.append(os.path.realpath(store.url))
    found += [_secret(settings.aws_access_key_id), _secret(settings.aws_secret_access_key)]
    return sorted({n for n in found if n and len(n) >= 6})


def datasets_json(store: ObjectStore, snapshots: Mapping[str, Snapshot]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "files": [store.duckdb_path(f.key) for f in snap.files],
            "columns": [list(c) for c in snap.columns],
        }
        for name, snap in sorted(snapshots.items())
    ]


def snapshot_columns(snapshot: Snapshot) -> list[tuple[str, str]]:
    """The columns of the dataset's view: the snapshot's, then the partition's `dt` (every
    data file is in a `dt=` folder; an empty dataset's view has the column as well)."""
    if not snapshot.columns:
        return []
    names = {name for name, _ in snapshot.columns}
    return [*snapshot.columns, *([] if "dt" in names else [("dt", "DATE")])]


class SqlSession:
    """User SQL over one set of committed snapshots, run by a pool of worker processes."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        snapshots: Mapping[str, Snapshot],
        *,
        workers: int | None = None,
        validate: bool = True,
        queue_wait_s: float = QUEUE_WAIT_S,
    ) -> None:
        self.limits = Limits.from_settings(settings)
        self.queue_wait_s = queue_wait_s
        self.views = {name: snap.version for name, snap in sorted(snapshots.items())}
        self.columns = {name: snapshot_columns(snap) for name, snap in sorted(snapshots.items())}
        spec = {
            "settings": worker_settings(settings),
            "datasets": datasets_json(store, snapshots),
            "needles": needles(settings, store),
            "rss_cap": self.limits.rss_cap,
            "validate": validate,
        }
        base = Path(settings.temp_dir) / "sql"
        size = workers if workers is not None else settings.sql_workers
        self.pool = WorkerPool(spec, base, self.limits.rss_cap, size)
        self.last: Outcome | None = None

    def wait_ready(self, wait_s: float = READY_WAIT_S, *, every: bool = False) -> None:
        """Block until a worker (`every`: each worker of the pool) is free to answer."""
        self.pool.wait_ready(wait_s, self.pool.size if every else 1)

    def schema(self, wait_s: float = READY_WAIT_S) -> dict[str, list[tuple[str, str]]]:
        """View -> [(column, type)], for the schema browser: from the snapshots, so it waits
        for no worker and opens no file; a snapshot that records no columns is shown as the
        first worker's catalog has it."""
        known = {name: cols for name, cols in self.columns.items() if cols}
        if len(known) < len(self.columns):
            if self.pool.schema is None:
                self.pool.wait_ready(wait_s)
            found = self.pool.schema or {}
            known = {name: known.get(name) or found.get(name, []) for name in self.columns}
        return known

    def run(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> QueryResult:
        """Run one query; `QueryRefused` with a one-line reason when it cannot (also when no
        worker is free within the queue wait: on the dashboard that keeps the wall time
        within timeout + 5 s)."""
        started = time.monotonic()
        rows, seconds = self.limits.rows(max_rows), self.limits.seconds(timeout_s)
        request = {"sql": sql, "max_rows": rows, "max_bytes": self.limits.max_bytes}
        if not self.pool.started:
            # The session's first query waits for the start-up (nothing else waits for it:
            # the schema comes from the snapshots), not just the queue wait.
            self.pool.wait_ready(READY_WAIT_S)
        worker = self.pool.acquire(wait_s=self.queue_wait_s)
        recycle = True
        try:
            reply = worker.ask(request, seconds)
            failure = _failure_of(reply)
            recycle = failure is not None and failure.recycle
        except Timeout:
            failure = Failure(
                "timeout",
                f"the query was stopped after its time limit of {seconds:g} s; "
                "narrow it (filters, LIMIT, fewer joins)",
            )
        except MemoryCapExceeded:
            failure = Failure("memory", _memory_message(self.limits.rss_cap))
        except (Closed, OSError):
            failure = Failure(
                "crash", "the SQL engine stopped while running this query; it was restarted"
            )
        finally:
            self.pool.release(worker, recycle=recycle)
        kind = failure.kind if failure else "ok"
        wall = time.monotonic() - started
        self.last = Outcome(kind, wall, worker.peak_rss, worker.proc.pid)
        log.debug(
            "user query",
            extra={"outcome": kind, "wall_s": round(wall, 3), "peak_rss": worker.peak_rss},
        )
        if failure is not None:
            raise QueryRefused(mask(failure.message))
        return self._result(sql, reply, rows, worker.peak_rss)

    def _result(self, sql: str, reply: Reply, rows: int, peak_rss: int) -> QueryResult:
        table = pa.ipc.open_stream(reply.payload).read_all()
        if shows_any(table.schema, table.to_batches(), registered_secrets()):
            raise QueryRefused("the result would show a credential; it was withheld")
        frame = table.to_pandas(types_mapper=_arrow_numbers)
        frame.columns = unique_names([str(c) for c in frame.columns])
        return QueryResult(
            sql=sql,
            frame=frame,
            cut=reply.header.get("cut"),
            max_rows=rows,
            max_bytes=self.limits.max_bytes,
            elapsed_s=reply.wall_s,
            explain=bool(reply.header.get("explain")),
            peak_rss=peak_rss,
        )

    def close(self) -> None:
        self.pool.close()


def _arrow_numbers(kind: pa.DataType) -> pd.ArrowDtype | None:
    """Number columns stay Arrow-typed in the frame: a NULL stays apart from NaN (numpy
    floats hold both as NaN) and a BIGINT past 2^53 beside a NULL is not rounded through a
    float. Other types convert as pandas does (nested ones to Python objects)."""
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        return pd.ArrowDtype(kind)
    return None


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique (`a, a` -> `a, a_2`): a join of a view with itself repeats
    them, and neither the page's grid nor JSON records can hold two columns of one name."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _failure_of(reply: Reply) -> Failure | None:
    if reply.ok:
        return None
    return Failure(str(reply.header.get("kind") or "error"), str(reply.header.get("message")))


def _memory_message(cap: int) -> str:
    return (
        f"the query needed more memory than the SQL engine may use ({cap / MIB:,.0f} MiB); "
        "narrow it (filters, LIMIT, fewer or smaller columns)"
    )
