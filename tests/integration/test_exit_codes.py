"""The exit codes of the README's table, each through the real command line: a configuration
or usage error is exit 2 with one line and no traceback, whatever the subcommand."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bucketpipe.jobs.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TEMPFAIL,
)
from tests.support.cli import run_cli

# One fresh interpreter per row: on a loaded 2-core machine the rows take minutes together.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]

# (what, arguments, settings): each must exit 2 with one line naming the problem (`expect`).
CONFIG_ERRORS: tuple[tuple[str, list[str], dict[str, str], str], ...] = (
    ("lake URL of an unknown scheme", ["status"], {"BUCKETPIPE_LAKE": "ftp://x/y"}, "LAKE"),
    ("lake under a file", ["status"], {"BUCKETPIPE_LAKE": "/etc/passwd/lake"}, "LAKE"),
    ("lake bucket missing", ["status"], {"BUCKETPIPE_LAKE": "s3:///prefix"}, "bucket"),
    ("Redis URL not Redis", ["status"], {"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
    ("Redis URL bad port", ["status"], {"REDIS_URL": "redis://localhost:99999/0"}, "port"),
    ("nonexistent source", ["ingest", "bucket", "--source", "/nonexistent"], {}, "/nonexistent"),
    ("no source at all", ["ingest", "bucket"], {}, "BUCKETPIPE_SOURCE"),
    ("negative days", ["ingest", "demo", "--days", "-3"], {}, "--days"),
    ("zero days", ["ingest", "demo", "--days", "0"], {}, "--days"),
    ("days not a number", ["ingest", "demo", "--days", "many"], {}, "--days"),
    ("zero interval", ["ingest", "demo", "--interval", "0"], {}, "--interval"),
    ("zero file limit", ["ingest", "bucket", "--limit", "0"], {}, "--limit"),
    ("zero shards", ["ingest", "finnhub", "--shards", "0"], {}, "--shards"),
    (
        "unknown Finnhub dataset",
        ["ingest", "finnhub", "--datasets", "no_such_dataset"],
        {"FINNHUB_API_KEY": "test-key-not-used"},
        "no_such_dataset",
    ),
    (
        "shard out of range",
        ["ingest", "finnhub", "--shard", "5/2"],
        {"FINNHUB_API_KEY": "test-key-not-used"},
        "shard 5/2",
    ),
    ("port out of range", ["dashboard", "--port", "99999"], {}, "--port"),
    ("metrics port out of range", ["metrics", "--port", "0"], {}, "--port"),
    ("negative lock wait", ["clean", "--wait", "-1"], {}, "--wait"),
    ("zero clean limit", ["clean", "--limit", "0"], {}, "--limit"),
    ("negative compaction wait", ["compact", "--wait", "-5"], {}, "--wait"),
    ("unknown dataset", ["clean", "--rebuild", "no_such_dataset"], {}, "no_such_dataset"),
    ("zero SQL rows", ["sql", "SELECT 1", "--max-rows", "0"], {}, "--max-rows"),
    ("negative SQL timeout", ["sql", "SELECT 1", "--timeout", "-1"], {}, "--timeout"),
    ("zero max age", ["status", "--check", "--max-age", "0"], {}, "--max-age"),
    ("bad --at time", ["status", "--check", "--at", "yesterday"], {}, "--at"),
    ("unknown subcommand", ["frobnicate"], {}, "frobnicate"),
    ("negative count setting", ["status"], {"BUCKETPIPE_DUCKDB_THREADS": "-2"}, "THREADS"),
    ("size setting", ["status"], {"BUCKETPIPE_SOURCE_MAX_DECOMPRESSED_BYTES": "lots"}, "DECOMP"),
    (
        "spill cap over the scratch space",
        ["status"],
        {"BUCKETPIPE_SCRATCH_BYTES": "1GiB", "BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE": "2GiB"},
        "MAX_TEMP_SIZE",
    ),
)


def settings_for(root: Path) -> dict[str, str]:
    return {
        "BUCKETPIPE_LAKE": str(root / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(root / "tmp"),
        "HOME": str(root),
    }


@pytest.fixture(scope="module")
def config_errors(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every configuration error run once, a few at a time (each is a fresh interpreter)."""
    root = tmp_path_factory.mktemp("exit-codes")

    def one(case: tuple[str, list[str], dict[str, str], str]) -> subprocess.CompletedProcess[str]:
        _, args, env, _ = case
        return run_cli(args, {**settings_for(root), **env})

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(one, CONFIG_ERRORS))
    return {case[0]: result for case, result in zip(CONFIG_ERRORS, results, strict=True)}


@pytest.mark.parametrize("case", CONFIG_ERRORS, ids=[c[0] for c in CONFIG_ERRORS])
def test_configuration_error_exits_2_with_one_line(
    case: tuple[str, list[str], dict[str, str], str],
    config_errors: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    what, _, _, expect = case
    result = config_errors[what]
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_CONFIG, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, output
    assert expect.lower() in errors[0].lower(), errors[0]


def test_ok_and_failed_runs(tmp_path: Path) -> None:
    """0: a run that did everything; 1: a run of which some work failed (what succeeded is
    committed); the run's temp directory is gone afterwards in both cases."""
    env = settings_for(tmp_path)
    assert run_cli(["ingest", "demo", "--days", "1"], env).returncode == EXIT_OK
    source = tmp_path / "source" / "prices"
    source.mkdir(parents=True)
    (source / "good.csv").write_text("symbol,price\nAAA,1.5\n")
    (source / "bad.csv.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"truncated")
    failed = run_cli(["ingest", "bucket", "--source", str(tmp_path / "source")], env)
    assert failed.returncode == EXIT_FAILED, failed.stderr
    assert "Traceback" not in failed.stderr and "bad.csv.gz" in failed.stderr
    again = run_cli(["ingest", "bucket", "--source", str(tmp_path / "source")], env)
    assert again.returncode == EXIT_OK, again.stderr  # the bad file is not retried
    assert "no new or changed files" in again.stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_readme_table_lists_every_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    codes = {int(c) for c in re.findall(r"^\| `?(\d+)`? \|", table, re.MULTILINE)}
    assert codes == {EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_TEMPFAIL, EXIT_INTERRUPTED}
