"""Two clean runs started together (a CronJob tick plus a manual `create job`), many times.

Both are the real `bucketpipe clean` command in its own process on the same lake, with Redis
(Redis lock) and without (file lock on a local lake, bucket lease on S3). In every round exactly
one commits; the other exits 0, at once (the lock is busy) or after waiting for it (`--wait`,
then nothing is pending). The lake stays sound and each ingest run is cleaned exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.lake.runs import CLEAN_JOB, RunLog
from tests.reliability.crash_runner import Step
from tests.reliability.harness import (
    Figures,
    Lake,
    lake_env,
    local_lake,
    next_friday_close,
    run_child,
    start_cli,
)

pytestmark = pytest.mark.integration


# Quick mode: 2 x 5 races (file lock, Redis lock); long mode: 20 on each of four setups.
QUICK_ROUNDS = 5


def race(lake: Lake, rounds: int, figures: Figures, *, redis_url: str | None) -> None:
    """`rounds` times: land an ingest run, start two cleans together, check the outcome."""
    env = lake_env(lake)
    if redis_url:
        env["REDIS_URL"] = redis_url
    runlog = RunLog(lake.store)
    friday = next_friday_close(datetime.now(UTC))
    for n in range(rounds):
        ingest = Step("ingest", f"i{n}", friday.isoformat(), interval_minutes=60 - n)
        landed = run_child(lake, ingest)
        assert landed.exitcode == 0, landed.describe()
        waits = n % 2 == 1  # every other manual run waits for the lock instead of giving up
        names = {"tick": f"clean-tick-{n}", "manual": f"clean-manual-{n}"}
        argv = {
            "tick": ["clean", "--run-id", names["tick"]],
            "manual": ["clean", "--run-id", names["manual"], *(["--wait", "60"] if waits else [])],
        }
        logs = {who: lake.root / f"{name}.log" for who, name in names.items()}
        started = {who: start_cli(env, argv[who], logs[who]) for who in ("tick", "manual")}
        for who, process in started.items():
            process.join(120)
            assert process.exitcode == 0, f"{who} exited {process.exitcode}: {logs[who]}"
        committed = [who for who, name in names.items() if runlog.exists(CLEAN_JOB, name)]
        assert len(committed) == 1, f"round {n}: committed {committed}"
        manifest = runlog.read(CLEAN_JOB, names[committed[0]])
        assert manifest.inputs == [f"i{n}"], manifest.inputs
        figures.add(f"{committed[0]}_committed")
        other = "manual" if committed[0] == "tick" else "tick"
        text = logs[other].read_text()
        if "holds the 'writer' lock" in text:
            figures.add("other_exited_busy")
        elif "no pending ingest runs" in text:
            figures.add("other_waited_then_found_nothing")
        else:
            raise AssertionError(f"round {n}: the {other} run neither waited nor gave up: {text}")
    state = lake.check()
    assert not state.violations, state.violations
    assert not state.uncleaned
    assert all(state.cleaned[f"i{n}"] == 1 for n in range(rounds))
    figures.add("rounds", rounds)


@pytest.mark.parametrize("redis", [False, True], ids=["no-redis", "redis"])
def test_two_cleans_started_together(
    redis: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if redis else None
    lake = local_lake(tmp_path, log_level="INFO")
    figures = Figures(f"concurrency, local lake, redis {'on' if redis else 'off'}")
    race(lake, QUICK_ROUNDS, figures, redis_url=redis_url)
    figures.report()


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("redis", [False, True], ids=["no-redis", "redis"])
@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_cleans_started_together_long(
    kind: str, redis: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if redis else None
    values: dict[str, Any] = {"log_level": "INFO"}
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        values.update(server.settings(bucket))
    lake = local_lake(tmp_path, **values)
    figures = Figures(f"concurrency, {kind} lake, redis {'on' if redis else 'off'} (long)")
    race(lake, 20, figures, redis_url=redis_url)
    figures.report()
