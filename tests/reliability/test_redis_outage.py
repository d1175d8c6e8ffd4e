"""Redis outage: stopped in the middle of runs, absent for several runs, then back empty.

Redis only makes Bucketpipe fast and live: jobs commit throughout the outage, nothing is lost or
duplicated (the lake ends exactly as a run without Redis at all leaves it), and once Redis is
back the consumer group is recreated, the stream resumes, and status and events flow again.
A long-lived `clean --watch` rides out the same outage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from bucketpipe.clean.job import GROUP
from bucketpipe.context import Context
from bucketpipe.coord.signals import CLEAN_COMMITTED, EVENTS, INGEST_COMMITTED
from bucketpipe.lake.duck import connect
from bucketpipe.lake.runs import INGEST_JOB, RunLog, RunManifest
from tests.conftest import RedisServer
from tests.reliability.crash_runner import Step, killing_store, run_step
from tests.reliability.harness import (
    Figures,
    Lake,
    lake_env,
    local_lake,
    next_friday_close,
    start_cli,
    until,
)
from tests.reliability.invariants import dataset_rows
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration

PREFIX = "bucketpipe:"


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def run(lake: Lake, step: Step, *, redis_url: str | None, hook: Callable[[], None] | None = None,
        hook_after: int | None = None) -> str:  # fmt: skip
    """Run a step in this process, as its job would, optionally calling `hook` mid-run."""
    ctx = Context.from_settings(lake.settings.model_copy(update={"redis_url": redis_url}))
    at = datetime.fromisoformat(step.at)
    ctx.clock = lambda: at
    if hook is not None:
        ctx.store = killing_store(ctx.store, hook_after, hook)
    try:
        return run_step(ctx, step)
    finally:
        ctx.close()


def event_kinds(url: str) -> list[tuple[str, str]]:
    return [(f["kind"], f["run_id"]) for _, f in client(url).xrange(PREFIX + EVENTS)]


def scenario(t1: datetime) -> list[tuple[str, Step]]:
    """(Redis state during the step, step): up, stopped mid-clean, down, down, down, back."""
    day = lambda k: (t1 + timedelta(days=k)).isoformat()  # noqa: E731
    return [
        ("up", Step("ingest", "r1", day(0))),
        ("up", Step("clean", "c1", day(0))),
        ("up", Step("ingest", "r2", day(0), interval_minutes=30)),
        ("stop-mid-run", Step("clean", "c2", day(0))),
        ("down", Step("ingest", "r3", day(3))),
        ("down", Step("clean", "c3", day(3))),
        ("down", Step("ingest", "r4", day(3), interval_minutes=30)),
        ("down", Step("ingest", "r5", day(3), interval_minutes=20)),
        ("down", Step("clean", "c4", day(3))),
        ("back", Step("ingest", "r6", day(4))),
        ("back", Step("clean", "c5", day(4))),
    ]


def outage(lake: Lake, server: RedisServer, url: str, figures: Figures) -> None:
    for state, step in scenario(next_friday_close(datetime.now(UTC))):
        if state == "back" and server.process is None:
            server.start()  # an empty Redis: nothing survived the restart
            assert client(url).dbsize() == 0
        if state == "stop-mid-run":
            result = run(lake, step, redis_url=url, hook=server.stop, hook_after=3)
        else:
            result = run(lake, step, redis_url=url)
        assert result in ("succeeded", "nothing"), (state, step, result)
        manifest = _manifest(lake, step)
        expected = {"up": {"ok"}, "back": {"ok"}, "down": {"unavailable"}}.get(
            state, {"ok", "unavailable"}
        )
        assert manifest.redis in expected, (state, step.run_id, manifest.redis)
        figures.add(f"runs_redis_{state.replace('-', '_')}")
    assert server.process is not None
    # Back: the consumer group was recreated and the stream carries the new runs' events.
    groups = client(url).xinfo_groups(PREFIX + EVENTS)
    assert [g["name"] for g in groups] == [GROUP]
    assert groups[0]["pending"] == 0
    assert event_kinds(url) == [(INGEST_COMMITTED, "r6"), (CLEAN_COMMITTED, "c5")]
    status = client(url).hgetall(PREFIX + "status:clean")
    assert (status["state"], status["run_id"]) == ("succeeded", "c5")
    assert client(url).hget(PREFIX + "status:ingest-demo", "run_id") == "r6"
    assert int(client(url).get(PREFIX + "version:quotes") or 0) >= 1


def _manifest(lake: Lake, step: Step) -> RunManifest:
    job = INGEST_JOB if step.job == "ingest" else "clean"
    return RunLog(lake.store).read(job, step.run_id)


def reference_rows(lake: Lake) -> dict[str, list[tuple[Any, ...]]]:
    """The same runs without Redis at all."""
    for _, step in scenario(next_friday_close(datetime.now(UTC))):
        run(lake, step, redis_url=None)
    con = connect(lake.settings)
    try:
        return dataset_rows(con, lake.store, ignore=("_clean_run",))
    finally:
        con.close()


def check_outcome(lake: Lake, reference: Lake, figures: Figures) -> None:
    state = lake.check()
    assert not state.violations, state.violations
    assert not state.uncleaned
    assert all(n == 1 for n in state.cleaned.values())
    con = connect(lake.settings)
    rows = dataset_rows(con, lake.store, ignore=("_clean_run",))
    con.close()
    expected = reference_rows(reference)
    assert rows.keys() == expected.keys()
    for name, want in expected.items():
        assert rows[name] == want, f"{name} differs from the run without Redis"
    figures.values.update(ingest_runs=len(state.ingest_inputs), rows=sum(state.rows.values()))


def test_jobs_commit_through_an_outage(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
) -> None:
    figures = Figures("redis outage, local lake")
    lake = local_lake(tmp_path)
    try:
        outage(lake, redis_server, redis_url, figures)
    finally:
        if redis_server.process is None:
            redis_server.start()
    check_outcome(lake, local_lake(tmp_path, "lake-reference"), figures)
    figures.report()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_jobs_commit_through_an_outage_s3(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    figures = Figures("redis outage, S3 lake")
    lake = local_lake(tmp_path, **s3_server.settings(s3_bucket, "outage"))
    try:
        outage(lake, redis_server, redis_url, figures)
    finally:
        if redis_server.process is None:
            redis_server.start()
    reference = local_lake(tmp_path, "lake-reference", **s3_server.settings(s3_bucket, "reference"))
    check_outcome(lake, reference, figures)
    figures.report()


def test_watch_rides_out_an_outage(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
) -> None:
    """A `clean --watch` process: Redis up, stopped for several ingest runs, back empty."""
    figures = Figures("redis outage, clean --watch")
    lake = local_lake(tmp_path, log_level="INFO", refresh_seconds=3)
    env = {**lake_env(lake), "REDIS_URL": redis_url}
    log = lake.root / "watch.log"
    watcher = start_cli(env, ["clean", "--watch"], log)
    runlog = RunLog(lake.store)
    friday = next_friday_close(datetime.now(UTC))

    def cleaned(run_id: str) -> bool:
        return any(run_id in m.inputs for m in runlog.recent("clean", limit=100))

    def ingest(run_id: str, interval: int) -> None:
        result = run(lake, Step("ingest", run_id, friday.isoformat(),
                                   interval_minutes=interval), redis_url=redis_url)  # fmt: skip
        assert result == "succeeded"

    try:
        ingest("w1", 60)
        assert until(lambda: cleaned("w1"), 90), log.read_text()[-3000:]
        redis_server.stop()
        for n, interval in ((2, 30), (3, 20)):
            ingest(f"w{n}", interval)
            assert until(lambda n=n: cleaned(f"w{n}"), 90), log.read_text()[-3000:]
        redis_server.start()
        back_at = len(log.read_text())
        ingest("w4", 15)
        assert until(lambda: cleaned("w4"), 90), log.read_text()[-3000:]
        # The watcher is back on the stream: its group exists and its status is live again.
        assert until(
            lambda: client(redis_url).hget(PREFIX + "status:clean", "state") == "succeeded", 30
        )
        groups = client(redis_url).xinfo_groups(PREFIX + EVENTS)
        assert [g["name"] for g in groups] == [GROUP]
        ingest("w5", 10)
        assert until(lambda: cleaned("w5"), 90), log.read_text()[-3000:]
        # The manifest is the commit; the event follows it (step 4 of the commit protocol).
        event = (CLEAN_COMMITTED, cleaned_run(runlog, "w5"))
        assert until(lambda: event in event_kinds(redis_url), 30), event_kinds(redis_url)
        # Several blocking waits later, Redis (up all along) was never reported as down.
        watcher.join(9)
        after = log.read_text()[back_at:]
        figures.values["false_outage_warnings"] = after.count("Redis unavailable")
        assert "Redis unavailable" not in after, after[-3000:]
    finally:
        if redis_server.process is None:
            redis_server.start()
        if watcher.is_alive():
            watcher.terminate()  # SIGTERM: the watcher stops between passes
            watcher.join(60)
    assert watcher.exitcode == 130, log.read_text()[-3000:]  # SIGTERM, as the README says
    state = lake.check()
    assert not state.violations, state.violations
    assert not state.uncleaned and all(n == 1 for n in state.cleaned.values())
    figures.values["ingest_runs"] = len(state.ingest_inputs)
    figures.report()


def cleaned_run(runlog: RunLog, input_id: str) -> str:
    for manifest in runlog.recent("clean", limit=100):
        if input_id in manifest.inputs:
            return manifest.run_id
    raise AssertionError(f"{input_id} not cleaned")
