"""The SQL worker process: one locked-down engine, one query at a time, answers on a pipe.

Started by `pool.py` with an environment built from an allowlist (no `AWS_*`, no
`BUCKETPIPE_*`) and its settings on stdin, never in its environment or command line. Before
it reads a query it sets a hard ceiling on its heap (RLIMIT_DATA, a backstop to the parent's
resident-memory watch) and turns core dumps off.
"""

from __future__ import annotations

import os
import resource
import select
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

import duckdb
import pyarrow as pa

from bucketpipe.config.errors import QueryRefused
from bucketpipe.config.settings import Settings
from bucketpipe.serve.sandbox import policy
from bucketpipe.serve.sandbox.engine import Dataset, Engine
from bucketpipe.serve.sandbox.limits import format_bytes
from bucketpipe.serve.sandbox.messages import Failure, classify, scrub
from bucketpipe.serve.sandbox.protocol import read_frame_blocking, write_frame, write_json
from bucketpipe.serve.sandbox.shown import shows_any
from bucketpipe.serve.sandbox.validator import Checked, Validator

MIB = 1 << 20
DATA_FACTOR = 3


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmSize, VmRSS, VmHWM ... of a process in bytes (Linux /proc)."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Vm"):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> None:
    """Start the peak resident memory (VmHWM) afresh, so each query reports its own."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:  # not Linux, or not allowed: the peak then covers the worker's life
        pass


def limit_memory(cap: int) -> int:
    """A hard ceiling on the worker's heap (RLIMIT_DATA), far above what it may keep resident.

    Not the bound itself: DuckDB and Arrow reserve address space well beyond what they touch
    (a query holding 750 MiB resident had reserved 2.2 GiB), so a data or address-space limit
    near the resident cap fails ordinary heavy queries at a third of it. The parent kills the
    worker when its resident memory nears the cap (`process.py`); this limit only stops an
    allocation storm from outrunning that watch. The new limit, in bytes.
    """
    now = proc_status()
    limit = now.get("VmData", now["VmSize"]) + DATA_FACTOR * cap
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return limit


def collect(
    reader: pa.RecordBatchReader, max_rows: int, max_bytes: int
) -> tuple[list[pa.RecordBatch], str | None]:
    """Batches up to the row and byte caps, and which cap cut the result (None: whole)."""
    kept: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in reader:
        cut = None
        if rows + batch.num_rows > max_rows:
            batch, cut = batch.slice(0, max_rows - rows), "rows"
        if size + batch.nbytes > max_bytes:
            batch, cut = _fit(batch, max_bytes - size), "bytes"
            if batch.num_rows == 0 and not kept:
                raise TooLarge
        kept.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if cut:
            return kept, cut
    return kept, None


class TooLarge(Exception):
    """Not even one row of the result fits the byte cap."""


def _fit(batch: pa.RecordBatch, budget: int) -> pa.RecordBatch:
    low, high = 0, batch.num_rows
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= budget:
            low = middle
        else:
            high = middle - 1
    return batch.slice(0, low)


def ipc_bytes(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


class Worker:
    """Answers queries from the parent until its pipe closes or it idles too long."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.needles = [str(n) for n in spec.get("needles", [])]
        self.validate = bool(spec.get("validate", True))
        self.memory = str(spec["settings"]["duckdb_memory_limit"])
        self.engine = Engine(
            Settings(**spec["settings"]), [Dataset.from_json(d) for d in spec["datasets"]]
        )
        self.validator = Validator(self.engine.views)
        policy.allowed_functions()
        self.validator.check("SELECT 1")  # warm the parser before the first real query

    def answer(self, request: dict[str, Any], out: IO[bytes]) -> None:
        reset_peak()
        started = time.monotonic()
        try:
            header, payload = self._run(request)
        except QueryRefused as exc:
            # A refusal may quote the query; what it quotes of a path or URL is left out.
            header, payload = _failure(Failure("refused", scrub(str(exc), self.needles))), b""
        header["elapsed_s"] = round(time.monotonic() - started, 4)
        header["peak_rss"] = proc_status().get("VmHWM", 0)
        write_json(out, header)
        if payload:
            write_frame(out, payload)
        # Checked after the answer is on its way, before the next query is read.
        same = self.engine.rolled_back and self.engine.unchanged()
        write_json(out, {"state": "same" if same else "changed"})

    def _run(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        sql = str(request["sql"])
        checked = self.validator.check(sql) if self.validate else Checked(sql)
        max_rows, max_bytes = int(request["max_rows"]), int(request["max_bytes"])
        named = self.engine.views if checked.datasets is None else checked.datasets
        retried = False
        while True:
            try:
                self.engine.prepare(named)
                with self.engine.transaction():
                    reader = self.engine.reader(checked.sql)
                    batches, cut = collect(reader, max_rows, max_bytes)
                    payload = ipc_bytes(reader.schema, batches)
                break
            except TooLarge:
                return _failure(Failure("too_large", _too_large(max_bytes))), b""
            except Exception as exc:
                if retried or not self._line_up(exc, named):
                    return _failure(classify(exc, self.needles, self.memory)), b""
                retried = True
        if shows_any(reader.schema, batches, self.needles):
            message = "the result would show storage details or credentials; it was withheld"
            return _failure(Failure("refused", message)), b""
        rows = sum(b.num_rows for b in batches)
        return {"ok": True, "rows": rows, "cut": cut, "explain": checked.explain}, payload

    def _line_up(self, exc: Exception, named: Iterable[str]) -> bool:
        """After a query met a dataset file of another schema than the first one its view
        opened: recreate the views it names lined up by name, so it can run once more. Only
        when the failed attempt left the engine as it was (the checks of `answer` stand)."""
        if not isinstance(exc, duckdb.InvalidInputException) or "schema mismatch" not in str(exc):
            return False
        if not (self.engine.rolled_back and self.engine.unchanged()):
            return False
        return self.engine.line_up(named)


def _failure(failure: Failure) -> dict[str, Any]:
    return {"ok": False, "kind": failure.kind, "message": failure.message}


def _too_large(max_bytes: int) -> str:
    return (
        f"one row of the result is larger than the result cap ({format_bytes(max_bytes)}); "
        "select fewer or smaller columns"
    )


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone, even in the middle of a long query."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print can never corrupt the protocol
    inp = os.fdopen(0, "rb", buffering=0)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    first = read_frame_blocking(inp)
    if first is None:
        return
    import json

    spec = json.loads(first)
    try:
        worker = Worker(spec)
        limit = limit_memory(int(spec["rss_cap"]))
    except Exception as exc:
        message = scrub(
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            spec.get("needles", []),
        )
        write_json(out, {"ok": False, "message": message})
        return
    del spec["settings"]  # the credentials are in the engine's secret manager now
    write_json(out, {"ok": True, "schema": worker.engine.schema, "data_limit": limit})
    idle = float(worker.spec.get("idle_seconds", 900))
    while True:
        ready, _, _ = select.select([inp], [], [], idle)
        if not ready:
            return
        frame = read_frame_blocking(inp)
        if frame is None:
            return
        worker.answer(json.loads(frame), out)


if __name__ == "__main__":
    main()
