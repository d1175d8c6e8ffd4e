"""Run identity: Kubernetes Job name, then --run-id, then a timestamp; the day of a run."""

import re
from datetime import UTC, date, datetime

import pytest

from bucketpipe.config.errors import ConfigError
from bucketpipe.ingest.run import run_day
from bucketpipe.lake.runs import RunManifest, resolve_run_id

NOW = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)


def test_job_name_wins_over_cli_and_clock() -> None:
    assert (
        resolve_run_id("clean", k8s_job_name="clean-29412345", cli_run_id="mine", now=NOW)
        == "clean-29412345"
    )


def test_cli_run_id_when_not_in_kubernetes() -> None:
    assert resolve_run_id("clean", k8s_job_name=None, cli_run_id="mine", now=NOW) == "mine"


def test_timestamp_run_id_names_the_job_and_differs_between_runs_of_one_second() -> None:
    ids = {
        resolve_run_id("ingest-demo", k8s_job_name=None, cli_run_id=None, now=NOW)
        for _ in range(50)
    }
    assert len(ids) == 50
    for run_id in ids:
        assert re.fullmatch(r"ingest-demo-20261122t010203z-[0-9a-f]{6}", run_id)
        assert run_day(run_id, NOW) == NOW.date()


def test_invalid_run_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        resolve_run_id("clean", k8s_job_name=None, cli_run_id="a/b", now=NOW)


def test_cronjob_job_name_gives_the_scheduled_day() -> None:
    # 29_412_345 minutes after the epoch is 2025-12-02 (a CronJob's Job name suffix).
    minutes = 29_412_345
    expected = datetime.fromtimestamp(minutes * 60, UTC).date()
    late_retry = datetime(2030, 1, 1, tzinfo=UTC)
    assert run_day(f"ingest-finnhub-{minutes}", late_retry) == expected


def test_other_run_ids_use_the_start_day() -> None:
    assert run_day("manual-run", NOW) == date(2026, 11, 22)
    # A number that is not a plausible schedule is ignored.
    assert run_day("batch-12345678", NOW) == date(2026, 11, 22)


def test_manifest_input_id_and_summary() -> None:
    manifest = RunManifest(
        job="ingest", run_id="r", shard=2, started_at=NOW, finished_at=NOW, inputs=["a"], rows=5
    )
    assert manifest.input_id == "r-2"
    summary = manifest.summary()
    assert summary["inputs"] == ["a"]
    assert summary["rows"] == 5
    assert summary["shard"] == 2
