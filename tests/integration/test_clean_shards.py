"""A sharded clean (pods of an Indexed Job) commits what a single-pod clean commits.

Same rows in every dataset, the derived ones included, and the same inputs consumed, each
exactly once; shards run at once as processes, in any order, retried, or with an ingest
landing between them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.clean.job import run_clean
from bucketpipe.clean.sharding import CleanShard, run_shard
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.run import ingest_demo
from bucketpipe.lake.layout import input_id
from bucketpipe.lake.runs import CLEAN_JOB
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory
from tests.integration.test_clean_concurrency import (
    INPUTS,
    ROOT,
    WHEN,
    committed_inputs,
    contents,
    env_for,
    prepare,
)

pytestmark = pytest.mark.integration

SHARDS = 3


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A prepared lake (four pending runs), its untouched copy and what one single-pod clean
    makes of it. Each lake starts as a copy: the landed files' times are lineage in rows."""
    base = tmp_path_factory.mktemp("single")
    settings = Settings(
        lake=str(base / "lake"), temp_dir=str(base / "tmp"), source=str(base / "src")
    )
    prepare(settings, base / "src")
    shutil.copytree(base / "lake", base / "pristine")
    ctx = Context.from_settings(settings)
    manifest = run_clean(ctx, run_id="clean-1", after_clean=AFTER_CLEAN)
    assert manifest is not None and sorted(manifest.inputs) == INPUTS
    ctx.close()
    return {"contents": contents(settings), "pristine": base / "pristine"}


def copy_lake(pristine: Path, settings: Settings) -> None:
    """The prepared lake's objects into this lake (a directory or a bucket)."""
    ctx = Context.from_settings(settings)
    for path in sorted(p for p in pristine.rglob("*") if p.is_file()):
        ctx.store.upload(path.relative_to(pristine).as_posix(), path)
    ctx.close()


def shard_process(settings: Settings, index: int) -> subprocess.Popen[str]:
    """A pod of the Indexed Job: `--shards N`, its index from JOB_COMPLETION_INDEX."""
    env = env_for(settings) | {"JOB_COMPLETION_INDEX": str(index)}
    return subprocess.Popen(
        [sys.executable, "-m", "bucketpipe", "clean", "--shards", str(SHARDS), "--run-id", "job-1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_shard_processes_at_once_commit_what_one_pod_commits(
    lake_settings: SettingsFactory, single: dict[str, Any]
) -> None:
    settings = lake_settings()
    copy_lake(single["pristine"], settings)
    procs = [shard_process(settings, index) for index in range(SHARDS)]
    outcomes = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in outcomes] == [0] * SHARDS, outcomes
    assert contents(settings) == single["contents"]
    ctx = Context.from_settings(settings)
    # The run's manifest closes every input, once; the shard manifests close none.
    assert committed_inputs(ctx) == Counter(INPUTS)
    run = ctx.runlog.read(CLEAN_JOB, "job-1")
    assert run.details["shards"] == SHARDS and run.status == "succeeded"
    for index in range(SHARDS):
        shard = ctx.runlog.read(CLEAN_JOB, input_id("job-1", index))
        assert shard.inputs == [] and sorted(shard.details["handled"]) == INPUTS
    assert run_clean(ctx, run_id="clean-2", after_clean=AFTER_CLEAN) is None  # nothing left
    ctx.close()


def test_each_dataset_is_cleaned_by_one_shard(tmp_path: Path, single: dict[str, Any]) -> None:
    settings = Settings(lake=str(tmp_path / "lake"), temp_dir=str(tmp_path / "tmp"))
    shutil.copytree(single["pristine"], tmp_path / "lake")
    ctx = Context.from_settings(settings)
    ctx.clock = lambda: WHEN
    cleaned: dict[str, int] = {}
    for index in range(SHARDS):
        manifest = run_shard(
            ctx, run_id="job-1", shard=CleanShard(index, SHARDS), after_clean=AFTER_CLEAN
        )
        assert manifest is not None
        for name, result in manifest.datasets.items():
            if result.snapshot_version is not None and name != "quality_reports":
                assert name not in cleaned, f"{name} cleaned by shards {cleaned[name]} and {index}"
                cleaned[name] = index
    assert len(set(cleaned.values())) == SHARDS  # every shard had work
    ctx.close()


def test_shards_in_any_order_retried_and_with_an_ingest_between(
    tmp_path: Path, single: dict[str, Any]
) -> None:
    """Shard 2 first and twice (a retried pod), an ingest committed before the others start:
    the run closes only the inputs every shard handled, the next clean the rest."""
    settings = Settings(lake=str(tmp_path / "lake"), temp_dir=str(tmp_path / "tmp"))
    shutil.copytree(single["pristine"], tmp_path / "lake")
    ctx = Context.from_settings(settings)
    ctx.clock = lambda: WHEN

    def shard(index: int) -> Any:
        return run_shard(
            ctx, run_id="job-1", shard=CleanShard(index, SHARDS), after_clean=AFTER_CLEAN
        )

    assert shard(2) is not None
    assert shard(2) is None  # the retried pod finds its shard committed
    assert not ctx.runlog.exists(CLEAN_JOB, "job-1")  # unfinished until every shard is done
    ingest_demo(ctx, run_id="d3", symbols=["MSFT"], days=1, interval_minutes=60, seed=3)
    shard(0)
    shard(1)
    run = ctx.runlog.read(CLEAN_JOB, "job-1")
    assert sorted(run.inputs) == INPUTS  # d3: shard 2 never saw it
    later = run_clean(ctx, run_id="clean-2", after_clean=AFTER_CLEAN)
    assert later is not None and later.inputs == ["d3"]
    assert committed_inputs(ctx) == Counter([*INPUTS, "d3"])
    # Cleaned in one go by a single pod, the same five inputs give the same rows.
    reference = Settings(lake=str(tmp_path / "ref"), temp_dir=str(tmp_path / "reftmp"))
    shutil.copytree(single["pristine"], tmp_path / "ref")
    ref = Context.from_settings(reference)
    ref.clock = lambda: WHEN
    ingest_demo(ref, run_id="d3", symbols=["MSFT"], days=1, interval_minutes=60, seed=3)
    assert run_clean(ref, run_id="clean-1", after_clean=AFTER_CLEAN) is not None
    ref.close()
    assert contents(settings) == contents(reference)
    ctx.close()


def test_a_shard_index_outside_the_job_is_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings(lake=str(tmp_path / "lake"), temp_dir=str(tmp_path / "tmp"))
    env = env_for(settings) | {"JOB_COMPLETION_INDEX": str(SHARDS)}
    done = subprocess.run(
        [sys.executable, "-m", "bucketpipe", "clean", "--shards", str(SHARDS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "JOB_COMPLETION_INDEX" in done.stderr
    assert not os.path.exists(tmp_path / "lake" / "_runs")
