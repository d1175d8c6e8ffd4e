"""Crash consistency: ingest, clean and compaction SIGKILLed at every object write, then rerun.

Each phase starts from a baseline lake (the jobs before it, run to completion) and its target
job is killed right after its Nth object write, for every N from 0 (before the first write) to
the number of writes of an uninterrupted run. After each kill the lake must be sound (see
`invariants.py`) while a reader thread keeps querying it; a rerun (the retried pod, or the next
scheduled run with a new id) must then complete, leave the lake sound with every committed
ingest run cleaned exactly once, and hold exactly the rows an uninterrupted run produces.
Long mode adds random-time kills from outside the process and the same on S3 (moto).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.lake.duck import connect
from tests.reliability.crash_runner import Step
from tests.reliability.harness import (
    Child,
    Figures,
    Lake,
    LakeReaders,
    kill_at_random_time,
    local_lake,
    next_friday_close,
    run_child,
)
from tests.reliability.invariants import dataset_rows

pytestmark = pytest.mark.integration

T1 = next_friday_close(datetime.now(UTC))
T3 = T1 + timedelta(days=3)  # the Monday after
# Lineage naming the clean run: a rerun under a new id legitimately differs there (and
# names the ingest run too when the ingest itself is rerun under a new id).
CLEAN_NAMED = ("_clean_run",)
RUN_NAMED = ("_clean_run", "_ingest_run")
QUICK_KILL_POINTS = 50


def at(moment: datetime) -> str:
    return moment.isoformat()


@dataclass(frozen=True)
class Phase:
    """A target job, the jobs that build its starting lake, and how a rerun recovers."""

    name: str
    before: tuple[Step, ...]
    target: Step
    after: tuple[Step, ...] = ()
    ignore: tuple[str, ...] = CLEAN_NAMED

    def recovery(self, point: int) -> list[Step]:
        """The rerun: odd points reuse the run id (a retried pod), even ones take a new id
        (the next scheduled run); then whatever completes the work.

        A killed clean may have consumed its input into every dataset: a run under a new id
        leaves that input to the killed run while its versions are younger than a lock
        lifetime (it may be alive), so a later clean, past that, lists it."""
        if point % 2:
            return [self.target, *self.after]
        step = replace(self.target, run_id=f"{self.target.run_id}r")
        if step.job != "clean":
            return [step, *self.after]
        later = datetime.fromisoformat(step.at) + timedelta(hours=1)
        settle = replace(step, run_id=f"{step.run_id}s", at=later.isoformat())
        return [step, settle, *self.after]


def phases() -> list[Phase]:
    i1 = Step("ingest", "i1", at(T1))
    c1 = Step("clean", "c1", at(T1))
    i2 = Step("ingest", "i2", at(T1), interval_minutes=30)
    c2 = Step("clean", "c2", at(T1))
    k0 = Step("compact", "k0", at(T1 + timedelta(days=2)))
    i3 = Step("ingest", "i3", at(T3))
    c3 = Step("clean", "c3", at(T3))
    i4 = Step("ingest", "i4", at(T3), interval_minutes=30)
    c4 = Step("clean", "c4", at(T3))
    k1 = Step("compact", "k1", at(T3 + timedelta(days=2)))
    return [
        Phase("ingest", (), i1, after=(c1,), ignore=RUN_NAMED),
        Phase("clean", (i1, c1, i2), c2),
        Phase("compact", (i1, c1, i2, c2, k0, i3, c3, i4, c4), k1),
    ]


@dataclass
class Baseline:
    """A phase's starting lake, and what an uninterrupted target run leaves behind."""

    phase: Phase
    lake: Lake
    writes: list[str]
    reference: dict[str, list[tuple[Any, ...]]]
    duration_s: float = 1.0


@dataclass
class Tally:
    points: int = 0
    killed: int = 0
    random_kills: int = 0
    finished_first: int = 0
    reruns: int = 0
    checks: int = 0
    failures: list[str] = field(default_factory=list)


def ok(child: Child, what: str) -> None:
    assert child.exitcode == 0 and child.outcome is not None, f"{what}: {child.describe()}"
    assert child.outcome.result not in ("failed", "busy"), f"{what}: {child.describe()}"


def build(lake: Lake, steps: tuple[Step, ...]) -> None:
    for step in steps:
        ok(run_child(lake, step), f"baseline {step.job} {step.run_id}")


def baselines(base: Lake, names: list[str] | None = None) -> list[Baseline]:
    """Build each phase's starting lake once, and its uninterrupted reference run."""
    out = []
    built: tuple[Step, ...] = ()
    for phase in phases():
        assert phase.before[: len(built)] == built
        build(base, phase.before[len(built) :])
        built = phase.before
        if names is not None and phase.name not in names:
            continue
        start = base.copy(f"{phase.name}-start")
        reference = start.copy(f"{phase.name}-reference")
        started = time.monotonic()
        child = run_child(reference, phase.target)
        duration = time.monotonic() - started
        ok(child, f"reference {phase.name}")
        assert child.outcome is not None
        for step in phase.after:
            ok(run_child(reference, step), f"reference {phase.name} then {step.job}")
        state = reference.check()
        assert not state.violations, state.violations
        con = connect(reference.settings)
        rows = dataset_rows(con, reference.store, ignore=phase.ignore)
        con.close()
        out.append(Baseline(phase, start, child.outcome.writes, rows, duration))
    return out


def check(lake: Lake, tally: Tally, where: str, *, complete: bool) -> None:
    state = lake.check()
    tally.checks += 1
    problems = list(state.violations)
    if complete and state.uncleaned:
        problems.append(f"committed ingest runs never cleaned: {sorted(state.uncleaned)}")
    if problems:
        tally.failures.append(f"{where}: {problems}")


def recover(baseline: Baseline, lake: Lake, point: int, tally: Tally, where: str) -> None:
    for step in baseline.phase.recovery(point):
        child = run_child(lake, step)
        tally.reruns += 1
        if child.exitcode != 0 or child.outcome is None or child.outcome.result == "failed":
            tally.failures.append(f"{where}: rerun {step.run_id} failed: {child.describe()}")
            return
    check(lake, tally, f"{where} after the rerun", complete=True)
    con = connect(lake.settings)
    rows = dataset_rows(con, lake.store, ignore=baseline.phase.ignore)
    con.close()
    for dataset, expected in baseline.reference.items():
        if rows.get(dataset) != expected:
            got = rows.get(dataset, [])
            tally.failures.append(
                f"{where}: {dataset} differs from an uninterrupted run "
                f"({len(got)} rows, expected {len(expected)})"
            )
    extra = sorted(set(rows) - set(baseline.reference))
    if extra:
        tally.failures.append(f"{where}: datasets an uninterrupted run does not have: {extra}")


def kill_points(
    baseline: Baseline,
    readers: LakeReaders,
    tally: Tally,
    points: list[int],
    *,
    other_rerun: bool = False,
) -> None:
    """Kill the target after each of these write counts, check, rerun, check (`other_rerun`:
    the rerun a point does not get by default, a new id for odd points, the same for even)."""
    phase = baseline.phase
    for n in points:
        where = f"{phase.name} killed after write {n}/{len(baseline.writes)}"
        lake = baseline.lake.copy(f"{phase.name}-k{n}-{tally.points}")
        readers.point_at(lake)
        child = run_child(lake, phase.target, kill_after=n, tag=f"k{n}")
        tally.points += 1
        if not child.killed and finished_first(child, n):
            # On S3 the bucket lease is renewed while a run lasts: a quicker run than the
            # reference one writes fewer objects and ends before the last points.
            tally.finished_first += 1
            check(lake, tally, f"{where} (finished first)", complete=True)
            continue
        if not child.killed:
            tally.failures.append(f"{where}: expected a SIGKILL, {child.describe()}")
            continue
        tally.killed += 1
        check(lake, tally, where, complete=False)
        recover(baseline, lake, n + other_rerun, tally, where)


def finished_first(child: Child, point: int) -> bool:
    """True if the run succeeded with fewer writes than `point` (so it could not be killed)."""
    outcome = child.outcome
    return (
        child.exitcode == 0
        and outcome is not None
        and outcome.result not in ("failed", "busy")
        and len(outcome.writes) < point
    )


def random_kills(
    baseline: Baseline, readers: LakeReaders, tally: Tally, count: int, rng: random.Random
) -> None:
    """Kill the target from outside at a random moment of its run, then check and rerun."""
    phase = baseline.phase
    for i in range(count):
        lake = baseline.lake.copy(f"{phase.name}-r{i}-{tally.points}")
        readers.point_at(lake)
        delay = rng.uniform(0.0, 0.9 * baseline.duration_s)
        child, _ = kill_at_random_time(lake, phase.target, delay, tag=f"r{i}")
        where = f"{phase.name} killed at {delay:.2f} s"
        tally.points += 1
        if child.killed:
            tally.killed += 1
            tally.random_kills += 1
        check(lake, tally, where, complete=False)
        recover(baseline, lake, i, tally, where)


def every_point(baseline: Baseline) -> list[int]:
    return list(range(len(baseline.writes) + 1))


@pytest.mark.timeout(900)
def test_kill_at_every_object_write_local(tmp_path: Path, readers: LakeReaders) -> None:
    figures = Figures("crash consistency, local lake (quick)")
    tally = Tally()
    built = baselines(local_lake(tmp_path))
    for baseline in built:
        kill_points(baseline, readers, tally, every_point(baseline))
        figures.values[f"{baseline.phase.name}_writes"] = len(baseline.writes)
    # Jobs that write less than 50 objects in all get the rest of the 50 kill points
    # at the first writes of the longest phase, with the other kind of rerun.
    longest = max(built, key=lambda b: len(b.writes))
    extra = every_point(longest)[: max(0, QUICK_KILL_POINTS - tally.points)]
    kill_points(longest, readers, tally, extra, other_rerun=True)
    figures.values["other_rerun_points"] = len(extra)
    figures.values.update(
        kill_points=tally.points,
        killed=tally.killed,
        reruns=tally.reruns,
        checks=tally.checks,
        reader_queries=readers.queries,
        reader_errors=len(readers.errors),
    )
    figures.report()
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert tally.points >= QUICK_KILL_POINTS
    assert readers.queries > 0


@pytest.mark.slow
@pytest.mark.timeout(7200)
@pytest.mark.parametrize("lake_kind", ["local", "s3"])
def test_kill_everywhere_long(
    lake_kind: str, tmp_path: Path, readers: LakeReaders, request: pytest.FixtureRequest
) -> None:
    """Every write point (three times on a local lake: reruns with the same and a new id),
    plus kills from outside at random moments."""
    values: dict[str, Any] = {}
    if lake_kind == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        values = {**server.settings(bucket, prefix="base"), "lock_ttl_seconds": 10}
    figures = Figures(f"crash consistency, {lake_kind} lake (long)")
    tally = Tally()
    rng = random.Random(20261122)
    for baseline in baselines(local_lake(tmp_path, **values)):
        if lake_kind == "s3":
            # A killed run leaves its bucket lease until it expires: the rerun waits for it.
            baseline.phase = replace(
                baseline.phase, target=replace(baseline.phase.target, wait_seconds=30)
            )
        points = every_point(baseline)
        kill_points(baseline, readers, tally, points * (3 if lake_kind == "local" else 1))
        random_kills(baseline, readers, tally, 90 if lake_kind == "local" else 10, rng)
        figures.values[f"{baseline.phase.name}_writes"] = len(baseline.writes)
    figures.values.update(
        kill_points=tally.points,
        killed=tally.killed,
        random_kills=tally.random_kills,
        finished_first=tally.finished_first,
        reruns=tally.reruns,
        checks=tally.checks,
        reader_queries=readers.queries,
    )
    figures.report()
    assert not tally.failures, "\n".join(tally.failures[:20])
