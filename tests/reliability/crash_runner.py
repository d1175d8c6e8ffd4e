"""Runs one job step in a child process, optionally SIGKILLing itself around its Nth object write.

The child builds the real `Context` from settings, as the CLI does, with a fixed clock, and
wraps its store in a subclass of the store's own class (so `isinstance` checks, e.g. the local
file lock, behave as in production) that counts the mutating calls (`put`, `put_new`, `upload`,
a `delete` of at least one key). With `kill_after=N` the process kills itself with SIGKILL right
after the Nth such call completes (`N=0`: right before the first one). Nothing is flushed or
cleaned up: it is exactly a pod killed at that instant.

Children are started from a `forkserver` that has already imported Bucketpipe, so a kill point
costs the job's own work, not an interpreter start. The same steps also run as a script:

    CRASH_KILL_AFTER=7 python -m tests.reliability.crash_runner '<settings json>' '<step json>'
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import bucketpipe.jobs.cli
from bucketpipe.clean.job import run_clean
from bucketpipe.config.errors import BucketpipeError, LockBusy
from bucketpipe.config.logs import configure_logging
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.demo.generate import SOURCE, DemoConfig, generate
from bucketpipe.ingest.run import already_committed, commit_ingest
from bucketpipe.lake.raw import RawWriter
from bucketpipe.lake.runs import COMPACT_JOB
from bucketpipe.lake.storage import ObjectStore, scratch_dir
from bucketpipe.maintain.compaction import run_compaction
from bucketpipe.wiring import AFTER_CLEAN

PRELOAD = ["tests.reliability.crash_runner"]
MUTATING = ("put", "put_new", "upload", "delete")
KILLED = -signal.SIGKILL


@dataclass(frozen=True)
class Step:
    """One job run: `ingest` (a demo market run), `clean` or `compact`, at a fixed time."""

    job: str
    run_id: str
    at: str
    interval_minutes: int = 60
    days: int = 2
    symbols: tuple[str, ...] = ("AAPL", "MSFT")
    endpoints: tuple[str, ...] | None = ("quote", "profile")
    wait_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Step:
        data = json.loads(text)
        if data.get("symbols") is not None:
            data["symbols"] = tuple(data["symbols"])
        if data.get("endpoints") is not None:
            data["endpoints"] = tuple(data["endpoints"])
        return cls(**data)


@dataclass
class Outcome:
    """What an unkilled step did: its object writes (in order) and how it ended."""

    writes: list[str] = field(default_factory=list)
    result: str = "done"
    error: str | None = None


class _Killing:
    """Mixed in before a store class: counts mutating calls and dies at the chosen one."""

    kill_after: int | None
    writes: list[str]
    action: Callable[[], None]
    _depth: int

    def _mutating(self, what: str, call: Any) -> Any:
        if self._depth:  # a store method calling another one counts once
            return call()
        if self.kill_after == 0 and not self.writes:
            self.action()
        self._depth += 1
        try:
            result = call()
        finally:
            self._depth -= 1
        self.writes.append(what)
        if self.kill_after is not None and len(self.writes) == self.kill_after:
            self.action()
        return result

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        parent = super()
        return self._mutating(f"put {key}", lambda: parent.put(key, data, content_type))  # type: ignore[misc]

    def put_new(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        parent = super()
        return bool(
            self._mutating(f"put_new {key}", lambda: parent.put_new(key, data, content_type))  # type: ignore[misc]
        )

    def upload(self, key: str, path: Path, content_type: str | None = None) -> None:
        parent = super()
        return self._mutating(f"upload {key}", lambda: parent.upload(key, path, content_type))  # type: ignore[misc]

    def delete(self, keys: Iterable[str]) -> int:
        parent = super()
        listed = list(keys)
        if not listed:
            return int(parent.delete(listed))  # type: ignore[misc]
        what = f"delete {listed[0]}" + (f" (+{len(listed) - 1})" if len(listed) > 1 else "")
        return int(self._mutating(what, lambda: parent.delete(listed)))  # type: ignore[misc]


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def killing_store(
    store: ObjectStore, kill_after: int | None, action: Callable[[], None] | None = None
) -> ObjectStore:
    """The same store, as an instance of a subclass of its class that counts mutating calls
    and, at the chosen one, kills the process (or runs `action` instead)."""
    cls = type(f"Killing{type(store).__name__}", (_Killing, type(store)), {})
    wrapped = object.__new__(cls)
    wrapped.__dict__.update(vars(store))
    wrapped.kill_after = kill_after
    wrapped.action = action or _die
    wrapped.writes = []
    wrapped._depth = 0
    return wrapped  # type: ignore[no-any-return]


def run_step(ctx: Context, step: Step) -> str:
    """Run the step the way its job's command does; a word saying how it went."""
    if step.job == "ingest":
        return _ingest(ctx, step)
    if step.job == "clean":
        manifest = run_clean(
            ctx, after_clean=AFTER_CLEAN, run_id=step.run_id, wait_seconds=step.wait_seconds
        )
        return "nothing" if manifest is None else manifest.status
    if step.job == "compact":
        if ctx.runlog.exists(COMPACT_JOB, step.run_id):
            return "nothing"
        return run_compaction(ctx, run_id=step.run_id, wait_seconds=step.wait_seconds).status
    raise ValueError(f"unknown job {step.job!r}")


def _ingest(ctx: Context, step: Step) -> str:
    """`ingest_demo`, limited to some endpoints so that a clean run stays small."""
    if already_committed(ctx, step.run_id, None) is not None:
        return "nothing"
    started = ctx.now()
    config = DemoConfig(
        symbols=list(step.symbols),
        days=step.days,
        interval_minutes=step.interval_minutes,
        seed=7,
        end=started,
        endpoints=frozenset(step.endpoints) if step.endpoints is not None else None,
    )
    ctx.announce_running(f"ingest-{SOURCE}", step.run_id)
    writer = RawWriter(scratch_dir(ctx.settings.temp_dir))
    try:
        for record in generate(config, step.run_id):
            writer.write(record)
        return commit_ingest(
            ctx, source=SOURCE, run_id=step.run_id, writer=writer, started_at=started
        ).status
    finally:
        writer.discard()


def _redirect(log_path: str | None) -> None:
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)


def cli_child(env: dict[str, str], argv: list[str], log_path: str | None = None) -> None:
    """The body of a child process running `bucketpipe <argv>` with exactly `env` as its
    Bucketpipe, AWS and Redis environment; it exits with the command's exit code."""
    _redirect(log_path)
    for name in list(os.environ):
        if name.startswith(("BUCKETPIPE_", "AWS_", "REDIS_", "FINNHUB_")):
            del os.environ[name]
    os.environ.update(env)
    sys.exit(bucketpipe.jobs.cli.main(argv))


def child(
    settings_values: dict[str, Any],
    step: Step,
    kill_after: int | None,
    result_path: str | None,
    log_path: str | None = None,
) -> None:
    """The body of a child process: run `step`, maybe die, else write an `Outcome` as JSON."""
    _redirect(log_path)
    settings = Settings(**settings_values)
    configure_logging(settings.log_level, "json", sys.stderr)
    ctx = Context.from_settings(settings)
    at = datetime.fromisoformat(step.at)
    ctx.clock = lambda: at
    store = killing_store(ctx.store, kill_after)
    ctx.store = store
    outcome = Outcome()
    try:
        outcome.result = run_step(ctx, step)
    except LockBusy as exc:
        outcome.result, outcome.error = "busy", str(exc)
    except BucketpipeError as exc:
        outcome.result, outcome.error = "failed", f"{exc.__class__.__name__}: {exc}"
    finally:
        ctx.close()
    outcome.writes = list(store.writes)  # type: ignore[attr-defined]
    if result_path:
        Path(result_path).write_text(json.dumps(asdict(outcome)))


def land_and_clean_child(settings_values: dict[str, Any], result_path: str, log_path: str) -> None:
    """The body of a child process: `ingest bucket` then `clean`, their manifests as JSON.

    Hostile input runs in a child so that even a crash of native code is a failed run the test
    sees, not the end of the test session."""
    from bucketpipe.ingest.bucket.mapping import Mapping
    from bucketpipe.ingest.bucket.source import land

    _redirect(log_path)
    settings = Settings(**settings_values)
    configure_logging(settings.log_level, "json", sys.stderr)
    ctx = Context.from_settings(settings)
    try:
        landed = land(ctx, run_id="hostile-1", mapping=Mapping())
        cleaned = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    finally:
        ctx.close()
    result = {
        "landed": landed.model_dump(mode="json") if landed else None,
        "cleaned": cleaned.model_dump(mode="json") if cleaned else None,
    }
    Path(result_path).write_text(json.dumps(result))


def main(argv: list[str]) -> int:
    """Script entry: settings JSON and step JSON as arguments, `CRASH_KILL_AFTER` from env."""
    settings_values, step = json.loads(argv[0]), Step.from_json(argv[1])
    raw = os.environ.get("CRASH_KILL_AFTER")
    child(settings_values, step, int(raw) if raw else None, os.environ.get("CRASH_RESULT"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
