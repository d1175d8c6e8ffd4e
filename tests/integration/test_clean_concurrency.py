"""Exactly-once cleaning: concurrent clean processes, and clean killed at many points.

Every committed ingest input must appear in exactly one committed clean manifest, and the
datasets must equal those of a lake cleaned without incident.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bucketpipe.clean.job import GROUP, run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.bucket.mapping import Mapping
from bucketpipe.ingest.bucket.source import land
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.duck import connect
from bucketpipe.lake.runs import CLEAN_JOB
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory
from tests.support.crashing_clean import CRASH_EXIT

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
INPUTS = ["b1", "b2", "d1", "d2"]
# Lineage that names the run or the moment that computed a row, not the row's data: derived
# datasets stamp `_fetched_at` with the time they were computed.
RUN_LINEAGE = ("_clean_run", "_cleaned_at")
DERIVED_LINEAGE = ("_fetched_at",)
DERIVED = ("daily_bars", "daily_indicators", "market_overview")


def prepare(settings: Settings, source: Path) -> None:
    """Four committed ingest runs (two demo, two bucket) waiting for clean."""
    ctx = Context.from_settings(settings)
    ctx.clock = lambda: WHEN
    (source / "sensor").mkdir(parents=True, exist_ok=True)
    for n in (1, 2):
        ingest_demo(ctx, run_id=f"d{n}", symbols=["AAPL"], days=2, interval_minutes=30, seed=7)
        rows = "".join(f"2026-11-20 1{n}:{m:02d};{m * n}\n" for m in range(30))
        (source / "sensor" / f"{n}.csv").write_text("time;value\n" + rows)
        land(ctx, run_id=f"b{n}", mapping=Mapping())
    ctx.close()


def plain(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUCKETPIPE_", "AWS_"))}
    env.update(
        BUCKETPIPE_LAKE=settings.lake,
        BUCKETPIPE_TEMP_DIR=settings.temp_dir,
        BUCKETPIPE_LOG_FORMAT="json",
        BUCKETPIPE_LOCK_TTL_SECONDS="10",
        PYTHONPATH=str(ROOT),
    )
    if settings.lake_is_s3:
        env.update(
            AWS_ENDPOINT_URL=str(settings.aws_endpoint_url),
            AWS_ACCESS_KEY_ID=plain(settings.aws_access_key_id),
            AWS_SECRET_ACCESS_KEY=plain(settings.aws_secret_access_key),
            AWS_REGION=settings.aws_region,
        )
        if settings.aws_ca_bundle:
            env["AWS_CA_BUNDLE"] = settings.aws_ca_bundle
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    return env


def committed_inputs(ctx: Context) -> Counter[str]:
    counts: Counter[str] = Counter()
    for manifest in ctx.runlog.recent(CLEAN_JOB, limit=1000):
        counts.update(manifest.inputs)
    return counts


def contents(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every dataset's rows, without the lineage that names the run or time that made them."""
    ctx = Context.from_settings(settings)
    con = connect(settings)
    reader = LakeReader(ctx.store)
    reader.register_views(con)
    out = {}
    for name in reader.datasets():
        cols = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
        skip = RUN_LINEAGE + (DERIVED_LINEAGE if name in DERIVED else ())
        keep = ", ".join(f'"{c}"' for c in cols if c not in skip)
        out[name] = con.execute(f'SELECT {keep} FROM "{name}" ORDER BY ALL').fetchall()
    ctx.close()
    return out


def spawn(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bucketpipe", *args],
        cwd=ROOT,
        env=env_for(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("wait", [False, True])
def test_two_clean_processes_started_together(
    lake_settings: SettingsFactory, tmp_path: Path, wait: bool
) -> None:
    settings = lake_settings(source=str(tmp_path / "src"))
    prepare(settings, tmp_path / "src")
    extra = ["--wait", "120"] if wait else []
    procs = [spawn(settings, "clean", "--run-id", f"clean-{n}", *extra) for n in (1, 2)]
    outcomes = [(p.wait(timeout=240), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    ctx = Context.from_settings(settings)
    assert committed_inputs(ctx) == Counter(INPUTS)  # one run took all four, once
    logs = "".join(err for _, err in outcomes)
    if wait:
        assert "no pending ingest runs" in logs  # the second waited, then found nothing
    else:
        assert "holds the 'writer' lock" in logs or "no pending ingest runs" in logs
    ctx.close()


def test_two_clean_processes_with_redis_locks(
    make_settings: SettingsFactory, tmp_path: Path, redis_url: str
) -> None:
    settings = make_settings(source=str(tmp_path / "src"), redis_url=redis_url)
    prepare(settings, tmp_path / "src")
    procs = [spawn(settings, "clean", "--run-id", f"clean-{n}") for n in (1, 2)]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    ctx = Context.from_settings(settings)
    assert committed_inputs(ctx) == Counter(INPUTS)
    assert ctx.signals.pending_count(GROUP) == 0  # every ingest event acked after the commit
    ctx.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A prepared lake (four pending runs), its untouched copy and its cleaned contents."""
    base = tmp_path_factory.mktemp("reference")
    settings = Settings(
        lake=str(base / "lake"), temp_dir=str(base / "tmp"), source=str(base / "src")
    )
    prepare(settings, base / "src")
    pristine = base / "pristine"
    shutil.copytree(base / "lake", pristine)
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.crashing_clean", "clean-1", "0"],
        cwd=ROOT,
        env=env_for(settings),
        capture_output=True,
        text=True,
        check=True,
    )
    writes = json.loads(run.stdout.strip().splitlines()[-1])["writes"]
    return {"pristine": pristine, "writes": writes, "contents": contents(settings)}


@pytest.mark.parametrize("point", [0.0, 0.25, 0.5, 0.75, 0.95, 1.0])
def test_clean_killed_then_rerun_cleans_each_input_once(
    reference: dict[str, Any], tmp_path: Path, point: float
) -> None:
    crash_at = max(1, round(point * reference["writes"]))
    shutil.copytree(reference["pristine"], tmp_path / "lake")
    settings = Settings(lake=str(tmp_path / "lake"), temp_dir=str(tmp_path / "tmp"))
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.support.crashing_clean", "clean-1", str(crash_at)],
        cwd=ROOT,
        env=env_for(settings),
        capture_output=True,
        text=True,
    )
    assert crashed.returncode == CRASH_EXIT, crashed.stderr[-2000:]
    # The retried pod: same run id. Then a later scheduled run: nothing left to do.
    ctx = Context.from_settings(settings)
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-2") is None
    assert committed_inputs(ctx) == Counter(INPUTS)
    assert contents(settings) == reference["contents"]
    ctx.close()


def test_crash_before_commit_with_redis_leaves_events_for_the_retry(
    make_settings: SettingsFactory, tmp_path: Path, redis_url: str
) -> None:
    settings = make_settings(source=str(tmp_path / "src"), redis_url=redis_url, lock_ttl_seconds=10)
    prepare(settings, tmp_path / "src")
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.support.crashing_clean", "clean-1", "3"],
        cwd=ROOT,
        env=env_for(settings),
        capture_output=True,
        text=True,
    )
    assert crashed.returncode == CRASH_EXIT, crashed.stderr[-2000:]
    ctx = Context.from_settings(settings)
    assert ctx.signals.pending_count(GROUP) == len(INPUTS)  # delivered, never acked
    # The retried pod: it waits out the dead holder's Redis lock, then reads its own pending.
    manifest = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1", wait_seconds=30)
    assert manifest is not None and sorted(manifest.inputs) == INPUTS
    assert ctx.signals.pending_count(GROUP) == 0
    assert committed_inputs(ctx) == Counter(INPUTS)
    ctx.close()
