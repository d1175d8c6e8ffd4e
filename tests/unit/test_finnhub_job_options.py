"""`bucketpipe ingest finnhub`: arguments to run options, outcomes to exit codes."""

from __future__ import annotations

import argparse

import pytest

from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.ingest.finnhub.run import RunOutcome
from bucketpipe.ingest.finnhub.shard import Shard
from bucketpipe.jobs.cli import build_parser
from bucketpipe.jobs.common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from bucketpipe.jobs.ingest_finnhub import exit_code, options_from


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["ingest", "finnhub", *argv])


def test_defaults() -> None:
    options = options_from(parse("--run-id", "r1"), Settings())
    assert (options.run_id, options.shard, options.datasets, options.symbols) == (
        "r1",
        None,
        None,
        None,
    )
    assert not options.force and not options.ignore_cadence


def test_every_option() -> None:
    args = parse(
        "--shard", "1/3", "--datasets", "quotes,candles", "--symbols", "aapl, msft",
        "--force", "--ignore-cadence", "--run-id", "nightly-1",
    )  # fmt: skip
    options = options_from(args, Settings())
    assert options.shard == Shard(1, 3)
    assert options.datasets == ("quotes", "candles")
    assert options.symbols == ("AAPL", "MSFT")
    assert options.force and options.ignore_cadence


def test_indexed_job_shard_and_run_id_from_the_environment() -> None:
    settings = Settings(job_completion_index=2, run_id="ingest-finnhub-28512345")
    options = options_from(parse("--shards", "4"), settings)
    assert options.shard == Shard(2, 4)
    assert options.run_id == "ingest-finnhub-28512345"


def test_the_default_run_id_is_a_timestamp() -> None:
    assert options_from(parse(), Settings()).run_id.startswith("ingest-finnhub-")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--datasets", "quotes,gossip"], "unknown \\['gossip'\\]"),
        (["--datasets", ","], "at least one name"),
        (["--symbols", " "], "at least one name"),
        (["--shards", "3"], "needs JOB_COMPLETION_INDEX"),
        (["--shard", "5/2"], "index must be 0..1"),
        (["--run-id", "bad id!"], "invalid run id"),
    ],
)
def test_bad_options_are_configuration_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        options_from(parse(*argv), Settings())


def test_shard_and_shards_are_mutually_exclusive() -> None:
    with pytest.raises(SystemExit) as info:
        parse("--shard", "0/2", "--shards", "2")
    assert info.value.code == 2


def test_exit_codes() -> None:
    assert exit_code(RunOutcome(None)) == EXIT_OK
    assert exit_code(RunOutcome(None, failed_calls=3)) == EXIT_FAILED
    assert exit_code(RunOutcome(None, failed_calls=1, auth_failed=True)) == EXIT_CONFIG


def test_an_indexed_job_pod_without_shards_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    options = options_from(parse(), Settings(job_completion_index=1))
    assert options.shard is None
    assert "JOB_COMPLETION_INDEX is set but --shards is not" in caplog.text
