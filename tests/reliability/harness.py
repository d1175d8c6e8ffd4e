"""Shared machinery of the reliability tests: child processes, lake copies, readers, figures."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.lake.duck import connect, quote_ident
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.reader import LakeReader
from tests.reliability import crash_runner
from tests.reliability.crash_runner import Outcome, Step
from tests.reliability.invariants import LakeState, check_lake
from tests.support.s3_servers import client_from_settings

_forkserver: Any = None


def forkserver() -> Any:
    """The multiprocessing context whose server process has Bucketpipe imported already."""
    global _forkserver
    if _forkserver is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(crash_runner.PRELOAD)
        _forkserver = context
    return _forkserver


def next_friday_close(after: datetime) -> datetime:
    """The first Friday 21:00 UTC (a market close) at least a day after `after`.

    The scenarios' clocks run ahead of the wall clock, so files written now are older than any
    grace period by the scenario's time, and vacuum really deletes.
    """
    day = (after + timedelta(days=1)).date()
    while day.weekday() != 4:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 21, 0, tzinfo=UTC)


@dataclass
class Lake:
    """One lake (a directory or an S3 prefix) and the settings values that reach it."""

    values: dict[str, Any]
    root: Path

    @property
    def settings(self) -> Settings:
        return Settings(**self.values)

    @property
    def store(self) -> ObjectStore:
        return lake_store(self.settings)

    @property
    def is_s3(self) -> bool:
        return str(self.values["lake"]).startswith("s3://")

    def copy(self, name: str) -> Lake:
        """A copy of this lake under a new name (a fresh start for one kill point)."""
        values = dict(self.values)
        root = self.root.parent / name
        values["temp_dir"] = str(root / "tmp")
        if self.is_s3:
            bucket, _, prefix = str(self.values["lake"]).removeprefix("s3://").partition("/")
            client = client_from_settings(self.values)
            new_prefix = f"{name}"
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{prefix}/"
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(prefix) + 1 :]
                    client.copy_object(
                        Bucket=bucket,
                        Key=f"{new_prefix}/{rel}",
                        CopySource={"Bucket": bucket, "Key": obj["Key"]},
                    )
            values["lake"] = f"s3://{bucket}/{new_prefix}"
        else:
            Path(self.values["lake"]).mkdir(parents=True, exist_ok=True)
            shutil.copytree(self.values["lake"], root / "lake", symlinks=True)
            values["lake"] = str(root / "lake")
        root.mkdir(parents=True, exist_ok=True)
        return Lake(values, root)

    def check(self) -> LakeState:
        con = connect(self.settings)
        try:
            return check_lake(self.store, con)
        finally:
            con.close()


def local_lake(base: Path, name: str = "lake-base", **values: Any) -> Lake:
    root = base / name
    defaults: dict[str, Any] = {
        "lake": str(root / "lake"),
        "temp_dir": str(root / "tmp"),
        "log_format": "json",
        "log_level": "WARNING",
        "redis_url": None,
    }
    root.mkdir(parents=True, exist_ok=True)
    return Lake({**defaults, **values}, root)


@dataclass
class Child:
    """How a child run ended: its exit code and, unless killed, its `Outcome`."""

    exitcode: int | None
    outcome: Outcome | None
    log: Path

    @property
    def killed(self) -> bool:
        return self.exitcode == crash_runner.KILLED

    def describe(self) -> str:
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        return f"exit {self.exitcode}, outcome {self.outcome}; log tail:\n{tail}"


def start_child(
    lake: Lake, step: Step, *, kill_after: int | None = None, tag: str = ""
) -> tuple[Any, Path, Path]:
    """Start a child process running `step` on `lake`; (process, result path, log path)."""
    name = f"{step.job}-{step.run_id}-{tag or uuid.uuid4().hex[:6]}"
    result = lake.root / f"{name}.json"
    log = lake.root / f"{name}.log"
    result.unlink(missing_ok=True)
    process = forkserver().Process(
        target=crash_runner.child,
        args=(lake.values, step, kill_after, str(result), str(log)),
        daemon=True,
    )
    process.start()
    return process, result, log


def finish_child(process: Any, result: Path, log: Path, timeout: float = 300) -> Child:
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join(10)
        raise AssertionError(f"child did not finish in {timeout} s; log {log}")
    outcome = None
    if result.exists():
        data = json.loads(result.read_text())
        outcome = Outcome(**data)
    return Child(process.exitcode, outcome, log)


def run_child(lake: Lake, step: Step, *, kill_after: int | None = None, tag: str = "") -> Child:
    """Run `step` on `lake` in a child process and wait for it."""
    return finish_child(*start_child(lake, step, kill_after=kill_after, tag=tag))


def start_cli(env: dict[str, str], argv: list[str], log: Path) -> Any:
    """Start `bucketpipe <argv>` in a child process (from the preloaded forkserver)."""
    process = forkserver().Process(
        target=crash_runner.cli_child, args=(env, argv, str(log)), daemon=True
    )
    process.start()
    return process


def lake_env(lake: Lake) -> dict[str, str]:
    """The environment that gives a command the settings of `lake`."""
    from bucketpipe.config.settings import env_name

    env = {}
    for name, value in lake.values.items():
        if value is not None:
            env[env_name(name)] = str(value)
    return env


def kill_at_random_time(
    lake: Lake, step: Step, delay_s: float, *, tag: str = ""
) -> tuple[Child, bool]:
    """Start `step`, SIGKILL it from outside after `delay_s`; (child, whether it was killed)."""
    process, result, log = start_child(lake, step, tag=tag)
    process.join(delay_s)
    was_running = process.exitcode is None
    if was_running:
        process.kill()  # SIGKILL
    return finish_child(process, result, log), was_running


class LakeReaders(threading.Thread):
    """A reader querying every dataset through `LakeReader` while writers crash around it.

    `point_at(lake)` switches it to another lake. Every error is recorded; a reader never errs
    when the lake is sound.
    """

    def __init__(self) -> None:
        super().__init__(name="lake-reader", daemon=True)
        self.stop_event = threading.Event()
        self.lake: Lake | None = None
        self.queries = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def point_at(self, lake: Lake) -> None:
        with self._lock:
            self.lake = lake

    def run(self) -> None:
        current: Lake | None = None
        con: duckdb.DuckDBPyConnection | None = None
        store: ObjectStore | None = None
        while not self.stop_event.is_set():
            with self._lock:
                lake = self.lake
            if lake is None:
                time.sleep(0.05)
                continue
            if lake is not current:
                if con is not None:
                    con.close()
                current, con, store = lake, connect(lake.settings, threads=1), lake.store
            assert con is not None and store is not None
            try:
                self.read_all(con, store)
            except Exception as exc:
                self.errors.append(f"{lake.values['lake']}: {exc.__class__.__name__}: {exc}")
            time.sleep(0.25)
        if con is not None:
            con.close()

    def read_all(self, con: duckdb.DuckDBPyConnection, store: ObjectStore) -> None:
        versions = LakeReader(store).register_views(con)
        for name in versions:
            con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchall()
            con.execute(f"SELECT * FROM {quote_ident(name)} LIMIT 5").fetchall()
            self.queries += 1

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)


@dataclass
class Figures:
    """Figures a test prints for docs/reliability.md."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def add(self, key: str, amount: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + amount

    def report(self) -> str:
        elapsed = time.monotonic() - self.started
        body = ", ".join(f"{k}={v}" for k, v in self.values.items())
        line = f"[reliability] {self.name}: {body}, seconds={elapsed:.1f}"
        print(line)
        return line


def until(predicate: Callable[[], bool], timeout: float = 30, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
