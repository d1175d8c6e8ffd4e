"""The wheel the image installs: only the `bucketpipe` package, no tests, no benchmarks, and the
`bucketpipe` command pointing into it. Built with `pip wheel` from what the Dockerfile copies."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.deploy_helpers import ROOT

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "bucketpipe", source / "bucketpipe", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("bucketpipe-*.whl")
    return zipfile.ZipFile(built)


def test_the_only_top_level_package_is_bucketpipe(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"bucketpipe"}
    for info in (n for n in names if n.endswith(".dist-info/top_level.txt")):
        assert wheel.read(info).decode().split() == ["bucketpipe"]


def test_no_tests_or_benchmarks_inside(wheel: zipfile.ZipFile) -> None:
    parts = {part for name in wheel.namelist() for part in name.split("/")[:-1]}
    assert not parts & {"tests", "benchmarks", "support"}
    assert not [n for n in wheel.namelist() if Path(n).name.startswith(("test_", "conftest"))]


def test_the_cli_and_the_dashboard_are_inside(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert {"bucketpipe/jobs/cli.py", "bucketpipe/app/main.py", "bucketpipe/py.typed"} <= names
    assert "bucketpipe/app/views/overview.py" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "bucketpipe = bucketpipe.jobs.cli:main" in text
