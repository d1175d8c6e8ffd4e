"""The hostile-file corpus through the real command line (`ingest bucket`, then `clean`): for
every class, the hostile file is reported with its reason in the run's manifest (a huge line:
only that line is quarantined), the good file beside it is committed, the run's peak RSS stays
under 1.5 GiB, no temp file is left, and a second run does not try the bad file again.

Quick mode (`make test`) uses small bounds and files past them; `--long` the default bounds
with files far past them (a 9 GiB gzip bomb, a 200 MB line). Figures: docs/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.lake.local import LocalStore
from bucketpipe.lake.runs import CLEAN_JOB, INGEST_JOB, RunLog
from tests.reliability.harness import Figures
from tests.reliability.hostile_corpus import CLASSES, KEPT, LONG, QUICK, Mode, build

pytestmark = pytest.mark.integration

RSS_LIMIT = 1536 * 1024 * 1024


def cli(args: list[str], env: dict[str, str]) -> tuple[int, int, str]:
    """Run `bucketpipe <args>`: (exit code, peak RSS in bytes, stderr), measured by `wait4`."""
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bucketpipe", *args],
            env=env,
            stdout=null,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024, stderr


def one_class(root: Path, what: str, mode: Mode) -> dict[str, Any]:
    source, key = build(root, what, mode)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        "BUCKETPIPE_LAKE": str(root / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(root / "tmp"),
        "BUCKETPIPE_SOURCE": str(source),
        "BUCKETPIPE_LOG_LEVEL": "WARNING",
        **mode.settings,
    }
    started = time.monotonic()
    ingest, ingest_rss, ingest_log = cli(["ingest", "bucket", "--run-id", "h1"], env)
    clean, clean_rss, clean_log = cli(["clean", "--run-id", "c1"], env)
    again, _, again_log = cli(["ingest", "bucket", "--run-id", "h2"], env)
    return {
        "what": what,
        "key": key,
        "codes": (ingest, clean, again),
        "rss": max(ingest_rss, clean_rss),
        "seconds": time.monotonic() - started,
        "logs": ingest_log + clean_log + again_log,
        "left": sorted(str(p) for p in (root / "tmp").rglob("*")),
        "runs": RunLog(LocalStore(root / "lake")),
    }


@pytest.mark.timeout(7200)
def test_each_hostile_file_is_bounded_isolated_and_reported(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    mode = LONG if request.config.getoption("--long") else QUICK
    figures = Figures(f"hostile files through the command line ({mode.name})")
    with ThreadPoolExecutor(max_workers=2) as pool:
        names = list(CLASSES)
        results = list(
            pool.map(lambda i: one_class(tmp_path / f"c{i}", names[i], mode), range(len(names)))
        )
    for result in results:
        what, logs = result["what"], result["logs"]
        assert "Traceback" not in logs, f"{what}: {logs[-2000:]}"
        assert result["left"] == [], f"{what}: temp files left: {result['left']}"
        assert result["rss"] <= RSS_LIMIT, f"{what}: peak RSS {result['rss']}"
        ingest_code, clean_code, again_code = result["codes"]
        (landed,) = result["runs"].recent(INGEST_JOB, 5)
        (cleaned,) = result["runs"].recent(CLEAN_JOB, 5)
        datasets = cleaned.datasets
        assert datasets["good"].rows_written == 2, f"{what}: {datasets}"
        if what in KEPT:
            assert ingest_code == 0, f"{what}: {logs[-2000:]}"
            kept = datasets["hostile"]
            assert kept.rows_written >= 1, f"{what}: {kept}"
            outcome = f"landed; {kept.rows_quarantined} line(s) quarantined"
            if what == "huge NDJSON line":
                assert kept.rows_written == 2 and kept.rows_quarantined == 1, kept
        else:
            assert ingest_code == 1, f"{what}: {logs[-2000:]}"
            (failed,) = landed.details["failed"]
            assert failed["key"] == result["key"] and failed["error"], failed
            assert "hostile" not in datasets
            outcome = f"refused: {failed['error'][:90]}"
        assert clean_code == 0, f"{what}: {logs[-2000:]}"
        assert again_code == 0, f"{what}: {logs[-2000:]}"  # and no second run: not retried
        figures.values[what] = (
            f"peak RSS {result['rss'] / 2**20:.0f} MiB, {result['seconds']:.0f} s; {outcome}"
        )
    figures.report()
