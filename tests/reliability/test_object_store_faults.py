"""Object-store faults: every S3 request of boto3 (writes) and DuckDB httpfs (reads) goes through
a proxy that answers 500 / 503 SlowDown, resets connections (before the request reaches the
server, and after it was applied with the answer lost) and delays answers.

At 10% faults every run completes through retries, or fails with a clear one-line error and the
next run completes; after every attempt, seen directly on the server, nothing is half-visible
(the invariants hold), and a reader querying through the proxy never errs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.crash_runner import Step
from tests.reliability.harness import (
    Figures,
    Lake,
    LakeReaders,
    lake_env,
    local_lake,
    next_friday_close,
    run_child,
    start_cli,
)
from tests.support.s3_fault_proxy import S3FaultProxy
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration

RATE = 0.10
ATTEMPTS = 5


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(s3_server.endpoint, rate=0.0, seed=8, ca_bundle=s3_server.ca_bundle) as p:
        yield p


def lakes(tmp_path: Path, proxy: S3FaultProxy, server: S3Server, bucket: str) -> tuple[Lake, Lake]:
    """The lake through the faulty proxy (plain HTTP to the proxy), and the same lake seen
    directly (for checks)."""
    values = {**server.settings(bucket, "lake"), "aws_endpoint_url": proxy.url}
    faulty = local_lake(tmp_path, "faulty", **values)
    direct = Lake({**faulty.values, "aws_endpoint_url": server.endpoint}, faulty.root)
    return faulty, direct


def one_line(error: str | None) -> bool:
    return bool(error) and "\n" not in str(error) and "Traceback" not in str(error)


def attempt_steps(
    faulty: Lake, direct: Lake, steps: list[Step], figures: Figures, failures: list[str]
) -> None:
    """Each step until it completes (at most `ATTEMPTS` runs), checking the lake after each."""
    for step in steps:
        for attempt in range(1, ATTEMPTS + 1):
            child = run_child(faulty, step, tag=f"a{attempt}")
            figures.add("runs")
            outcome = child.outcome
            state = direct.check()
            if state.violations:
                failures.append(f"{step.run_id} attempt {attempt}: {state.violations}")
            if child.exitcode == 0 and outcome is not None and outcome.result != "failed":
                figures.add("runs_completed")
                break
            figures.add("runs_failed_cleanly")
            error = outcome.error if outcome is not None else None
            if not one_line(error):
                failures.append(f"{step.run_id}: not a clear error: {child.describe()}")
                break
            figures.values.setdefault("errors", []).append(str(error)[:160])
        else:
            failures.append(f"{step.run_id}: did not complete in {ATTEMPTS} runs")


def sql_through_cli(faulty: Lake, figures: Figures, failures: list[str]) -> None:
    """`bucketpipe sql` through the proxy: a result, or a one-line error then a result."""
    env = lake_env(faulty)
    for attempt in range(1, ATTEMPTS + 1):
        log = faulty.root / f"sql-{attempt}.log"
        process = start_cli(
            env, ["sql", "--format", "json", "SELECT count(*) AS n FROM quotes"], log
        )
        process.join(300)
        figures.add("sql_runs")
        text = log.read_text()
        if process.exitcode == 0:
            rows = json.loads(next(line for line in text.splitlines() if line.startswith("[")))
            assert rows[0]["n"] > 0
            return
        errors = [line for line in text.splitlines() if '"level": "error"' in line]
        if "Traceback" in text or len(errors) != 1:
            failures.append(f"sql attempt {attempt}: not a clear error:\n{text[-2000:]}")
            return
    failures.append(f"sql did not answer in {ATTEMPTS} runs")


def scenario(t1: datetime) -> list[Step]:
    """Two rounds of ingest and clean, then compaction of the closed partitions they filled."""
    return [
        Step("ingest", "i1", t1.isoformat()),
        Step("clean", "c1", t1.isoformat()),
        Step("ingest", "i2", t1.isoformat(), interval_minutes=30),
        Step("clean", "c2", t1.isoformat()),
        Step("compact", "k1", (t1 + timedelta(days=3)).isoformat()),
    ]


def run_with_faults(
    tmp_path: Path,
    proxy: S3FaultProxy,
    server: S3Server,
    bucket: str,
    readers: LakeReaders,
    *,
    rate: float,
    steps: list[Step],
    name: str,
) -> Figures:
    faulty, direct = lakes(tmp_path, proxy, server, bucket)
    figures = Figures(name)
    failures: list[str] = []
    readers.point_at(faulty)  # DuckDB httpfs reads through the proxy, faults and all
    proxy.set_rate(rate)
    attempt_steps(faulty, direct, steps, figures, failures)
    sql_through_cli(faulty, figures, failures)
    proxy.set_rate(0.0)
    state = direct.check()
    assert not state.violations, state.violations
    assert not state.uncleaned and all(n == 1 for n in state.cleaned.values())
    figures.values.update(proxy.figures().as_dict())
    figures.values["reader_queries"] = readers.queries
    figures.values["reader_errors"] = len(readers.errors)
    errors: list[str] = figures.values.pop("errors", [])
    figures.report()
    for error in errors:
        print(f"    clear error: {error}")
    assert not failures, "\n".join(failures)
    assert proxy.figures().faults.total() > 0
    return figures


def test_ten_percent_faults(
    tmp_path: Path,
    proxy: S3FaultProxy,
    s3_server: S3Server,
    s3_bucket: str,
    readers: LakeReaders,
) -> None:
    steps = scenario(next_friday_close(datetime.now(UTC)))
    run_with_faults(
        tmp_path, proxy, s3_server, s3_bucket, readers,
        rate=RATE, steps=steps, name="object-store faults at 10% (quick)",
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("rate", [0.10, 0.25])
def test_faults_long(
    rate: float,
    tmp_path: Path,
    proxy: S3FaultProxy,
    s3_server: S3Server,
    s3_bucket: str,
    readers: LakeReaders,
) -> None:
    t1 = next_friday_close(datetime.now(UTC))
    steps: list[Any] = []
    for week in range(3):
        start = t1 + timedelta(days=7 * week)
        steps += [
            replace_ids(s, f"w{week}") for s in scenario(start) if s.job != "compact" or week == 2
        ]
    full = [
        Step("ingest", "full", t1.isoformat(), endpoints=None),
        Step("clean", "cf", t1.isoformat()),
    ]
    run_with_faults(
        tmp_path, proxy, s3_server, s3_bucket, readers,
        rate=rate, steps=full + steps, name=f"object-store faults at {rate:.0%} (long)",
    )  # fmt: skip


def replace_ids(step: Step, suffix: str) -> Step:
    from dataclasses import replace

    return replace(step, run_id=f"{step.run_id}{suffix}")


def test_a_create_if_absent_put_whose_answer_is_lost(
    tmp_path: Path, proxy: S3FaultProxy, s3_server: S3Server, s3_bucket: str
) -> None:
    """The server applies a conditional PUT (`If-None-Match: *`) but the answer is lost; boto3
    sends it again and gets 412. The writer must see that the object is its own write: else the
    bucket lease looks taken (the run gives up, and so does every run until the lease expires)
    and a snapshot version looks committed by another writer (the run fails)."""
    faulty, direct = lakes(tmp_path, proxy, s3_server, s3_bucket)
    store = faulty.store
    proxy.inject("lost", method="PUT", header="If-None-Match")
    assert store.put_new("probe/doc.json", b"mine") is True
    assert direct.store.get("probe/doc.json") == b"mine"
    assert store.put_new("probe/doc.json", b"someone else's") is False

    friday = next_friday_close(datetime.now(UTC)).isoformat()
    assert run_child(faulty, Step("ingest", "i1", friday)).exitcode == 0
    proxy.inject("lost", method="PUT", path_contains="/_locks/", header="If-None-Match")
    proxy.inject("lost", method="PUT", path_contains="/_snapshots/", header="If-None-Match")
    child = run_child(faulty, Step("clean", "c1", friday))
    assert child.exitcode == 0 and child.outcome is not None, child.describe()
    assert child.outcome.result == "succeeded", child.describe()
    assert proxy.figures().faults["lost"] == 3
    state = direct.check()
    assert not state.violations and not state.uncleaned
