"""Interleavings of the commit protocol that the random races (`test_commit_races.py`) hit
only now and then, built step by step: a second run starts at the chosen write of the first,
in the same process, with the other kind of lock (Redis's against the lake's), so neither
lock keeps them apart.

- A clean that finds every dataset already holding an input (another clean consumed it and
  has not written its manifest yet) leaves the input to that run: one manifest lists it.
- An input whose run died after consuming it everywhere is listed by a later run once that
  run's versions are older than a lock lifetime, and not before.
- A rebuild that loses a race to a clean consuming a new input plans again with that input
  instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.clean.job import rebuild, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.lake.duck import connect, sql_list
from bucketpipe.lake.layout import manifest_key, snapshot_key
from bucketpipe.lake.runs import CLEAN_JOB, RunLog
from bucketpipe.lake.snapshots import Snapshot, read_current
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.wiring import AFTER_CLEAN
from tests.reliability.crash_runner import Step
from tests.reliability.harness import Lake, local_lake, run_child
from tests.reliability.invariants import manifests
from tests.reliability.test_commit_races import last_closed_friday

pytestmark = pytest.mark.integration


class Interrupted(Exception):
    """Stops a run at a chosen write, as a SIGKILL would (nothing after it happens)."""


class _Before:
    """Mixed in before a store class: runs `action` once, right before the first write of a
    key starting with `prefix`."""

    prefix: str
    action: Callable[[], None]
    fired: bool

    def _before(self, key: str) -> None:
        if not self.fired and key.startswith(self.prefix):
            self.fired = True
            self.action()

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._before(key)
        super().put(key, data, content_type)  # type: ignore[misc]

    def put_new(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        self._before(key)
        return bool(super().put_new(key, data, content_type))  # type: ignore[misc]


def before_write(store: ObjectStore, prefix: str, action: Callable[[], None]) -> ObjectStore:
    """The same store, as an instance of a subclass of its class that runs `action` before
    its first write under `prefix`."""
    cls = type(f"Before{type(store).__name__}", (_Before, type(store)), {})
    wrapped = object.__new__(cls)
    wrapped.__dict__.update(vars(store))
    wrapped.prefix = prefix
    wrapped.action = action
    wrapped.fired = False
    return wrapped  # type: ignore[no-any-return]


def context(lake: Lake, *, redis_url: str | None = None, ahead: float = 0.0) -> Context:
    """A writer on `lake`: with Redis it takes Redis's lock, else the lake's file lock; its
    clock runs `ahead` seconds in front of the wall clock."""
    ctx = Context.from_settings(Settings(**{**lake.values, "redis_url": redis_url}))
    if ahead:
        ctx.clock = lambda: datetime.now(UTC) + timedelta(seconds=ahead)
    return ctx


def ingest(lake: Lake, run_id: str, interval_minutes: int = 60) -> None:
    """A demo market run; another interval gives other quotes."""
    at = last_closed_friday(datetime.now(UTC))
    step = Step("ingest", run_id, at.isoformat(), interval_minutes=interval_minutes, days=1)
    landed = run_child(lake, step)
    assert landed.exitcode == 0, landed.describe()


def listed_by(lake: Lake) -> dict[str, list[str]]:
    """Per ingest input, the clean runs whose manifests list it."""
    out: dict[str, list[str]] = {}
    for manifest in manifests(RunLog(lake.store), CLEAN_JOB):
        for i in manifest.inputs:
            out.setdefault(i, []).append(manifest.run_id)
    return out


def ingest_runs(lake: Lake, snap: Snapshot) -> set[str]:
    """The ingest runs the rows of a version come from."""
    paths = sql_list([lake.store.duckdb_path(f.key) for f in snap.files])
    con = connect(lake.settings)
    try:
        rows = con.execute(f"SELECT DISTINCT _ingest_run FROM read_parquet({paths})").fetchall()
    finally:
        con.close()
    return {str(r[0]) for r in rows}


def assert_sound(lake: Lake) -> None:
    state = lake.check()
    assert not state.violations, state.violations


def test_a_clean_leaves_an_input_to_the_live_run_that_consumed_it(
    tmp_path: Path, redis_url: str
) -> None:
    lake = local_lake(tmp_path)
    ingest(lake, "i1")
    late = context(lake, redis_url=redis_url)
    seen: dict[str, Any] = {}

    def clean_meanwhile() -> None:
        # Every dataset holds i1 now, and no manifest lists it yet.
        seen["b"] = run_clean(late, run_id="b", after_clean=AFTER_CLEAN)

    first = context(lake)
    first.store = before_write(first.store, manifest_key(CLEAN_JOB, "a"), clean_meanwhile)
    try:
        a = run_clean(first, run_id="a", after_clean=AFTER_CLEAN)
    finally:
        first.close()
        late.close()
    assert a is not None and a.inputs == ["i1"]
    assert seen["b"] is not None and seen["b"].inputs == [], "b listed an input it left to a"
    assert listed_by(lake) == {"i1": ["a"]}
    assert_sound(lake)


def test_a_dead_runs_input_is_listed_once_its_versions_are_older_than_a_lock_lifetime(
    tmp_path: Path,
) -> None:
    lake = local_lake(tmp_path)
    ingest(lake, "i1")

    def die() -> None:
        raise Interrupted

    dying = context(lake)
    dying.store = before_write(dying.store, manifest_key(CLEAN_JOB, "a"), die)
    with pytest.raises(Interrupted):
        run_clean(dying, run_id="a", after_clean=AFTER_CLEAN)
    dying.close()
    # A run right after: a's versions are younger than a lock lifetime, a may be alive.
    soon = context(lake)
    b = run_clean(soon, run_id="b", after_clean=AFTER_CLEAN)
    soon.close()
    assert b is not None and b.inputs == []
    assert "i1" not in listed_by(lake)
    # The next schedule, past the lock lifetime: a is taken as dead, its input is closed.
    ttl = lake.settings.lock_ttl_seconds
    later = context(lake, ahead=ttl + 60)
    c = run_clean(later, run_id="c", after_clean=AFTER_CLEAN)
    later.close()
    assert c is not None and c.inputs == ["i1"]
    assert listed_by(lake) == {"i1": ["c"]}
    assert_sound(lake)


def test_a_rebuild_plans_again_when_a_clean_consumes_a_new_input_first(
    tmp_path: Path, redis_url: str
) -> None:
    lake = local_lake(tmp_path)
    ingest(lake, "i1")
    with context(lake) as ctx:
        assert run_clean(ctx, run_id="c1", after_clean=AFTER_CLEAN) is not None
        before = read_current(ctx.store, "quotes")
    assert before is not None
    cleaner = context(lake, redis_url=redis_url)

    def ingest_and_clean() -> None:
        ingest(lake, "i2", interval_minutes=25)
        assert run_clean(cleaner, run_id="c2", after_clean=AFTER_CLEAN) is not None

    rebuilder = context(lake)
    first_commit = snapshot_key("quotes", before.version + 1)
    rebuilder.store = before_write(rebuilder.store, first_commit, ingest_and_clean)
    try:
        manifest = rebuild(rebuilder, run_id="r1", datasets=["quotes"], after_clean=AFTER_CLEAN)
    finally:
        rebuilder.close()
        cleaner.close()
    assert manifest.status == "succeeded", manifest.errors
    head = read_current(lake.store, "quotes")
    assert head is not None and head.run_id == "r1" and head.operation == "rebuild"
    assert manifest.details["ingest_runs_read"] == 2
    assert ingest_runs(lake, head) == {"i1", "i2"}
    assert listed_by(lake) == {"i1": ["c1"], "i2": ["c2"]}
    assert_sound(lake)
