"""A job's scratch directory, and the dashboard, whose process Streamlit replaces, without one."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bucketpipe.config.settings import Settings
from bucketpipe.jobs.cli import build_parser
from bucketpipe.jobs.common import guarded


def _dirs(base: Path) -> list[str]:
    return sorted(p.name for p in base.iterdir()) if base.exists() else []


def test_a_job_runs_in_its_own_locked_directory_and_the_dashboard_in_none(tmp_path: Path) -> None:
    base = tmp_path / "scratch"
    settings = Settings(lake=str(tmp_path / "lake"), temp_dir=str(base))
    seen: dict[str, str] = {}

    def probe(args: argparse.Namespace, got: Settings) -> int:
        seen[args.command] = got.temp_dir
        seen[args.command + " dirs"] = ",".join(_dirs(base))
        return 0

    job = build_parser().parse_args(["status"])
    assert getattr(job, "scratch", True)
    assert guarded(probe, argparse.Namespace(command="job"), settings) == 0
    assert Path(seen["job"]).parent == base and Path(seen["job"]).name.startswith(
        f"run-{os.getpid()}"
    )
    assert _dirs(base) == []  # removed at the end

    dashboard = build_parser().parse_args(["dashboard"])
    assert dashboard.scratch is False
    dashboard.command = "dashboard"
    assert guarded(probe, dashboard, settings) == 0
    # No directory of its own: after exec nothing would hold its lock, and the next job would
    # sweep it as a killed run's while the dashboard still runs.
    assert seen["dashboard"] == str(base) and seen["dashboard dirs"] == ""
